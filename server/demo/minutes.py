"""Demo minutes: each table's past meeting has its minutes, at a different point of their life.

- commerce and tourism (public): the summer season's minutes, published and then corrected by an
  erratum (version 2, see `publish_errata`); today's meeting, in progress, has its draft being
  written by the secretary;
- inclusion (public): published with a delegate's name left out of the public copy ([omissis]);
- safety at work: sent for approval, with members' remarks on two items;
- safeguard: approved by the chair, not yet published.

A version is built here as the domain builds it (full and public copies, HTML, PDF, hashes) and
left *publishing*: `tavoli demo` then writes it into the archive through the publishing protocol's
repair (server/domain/minutes_publishing.py), as after any interrupted publication. An erratum needs
a version already in the archive: `publish_errata`, which `tavoli demo` calls after that repair,
corrects the commerce table's published minutes with one (version 2, superseding version 1),
published through the protocol itself.

Runs after the meetings, the action items and the decisions: the minutes' records show them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Meeting, Minutes, MinutesVersion, PublicationState, Role, Table, User
from server.db.session import Database
from server.demo.world import TABLES_BY_SLUG, DemoWorld, email
from server.domain import agenda, documents, minutes_publishing, minutes_remarks
from server.domain import minutes as minutes_domain
from server.domain.actions import Actor


@dataclass(frozen=True)
class DemoMinutes:
    meeting: str  # the meeting's title
    status: str  # draft, sent, approved, published
    # The text written under each agenda item's heading, by the item's position (from 1).
    paragraphs: dict[int, str] = field(default_factory=dict)
    closing: str = ""
    remarks: tuple[tuple[str, int | None, str], ...] = ()  # (member, item position or None, text)
    redactions: tuple[str, ...] = ()


async def seed(session: AsyncSession, world: DemoWorld) -> None:
    """The minutes of the tables being created, written by their secretary and approved by their chair."""
    for slug, table in world.tables.items():
        for demo_minutes in MINUTES.get(slug, []):
            await _minutes(session, world, table, demo_minutes)


def written(outline: str, paragraphs: dict[int, str], closing: str) -> str:
    """The outline with each item's paragraph under its heading (`## n. Title`), and a closing line."""
    lines: list[str] = []
    for line in outline.splitlines():
        lines.append(line)
        if line.startswith("## "):
            number = line[3:].split(".", 1)[0]
            if number.isdigit() and int(number) in paragraphs:
                lines += ["", paragraphs[int(number)]]
    text = "\n".join(lines).rstrip("\n") + "\n"
    return text + (f"\n{closing}\n" if closing else "")


async def _minutes(session: AsyncSession, world: DemoWorld, table: Table, demo_minutes: DemoMinutes) -> None:
    seats = world.seats(table.slug)
    secretary = Actor(world.users[seats.secretary].id, Role.secretary)
    chair = Actor(world.users[seats.chair].id, Role.chair)
    meeting = await session.scalar(
        select(Meeting).where(Meeting.table_id == table.id, Meeting.title == demo_minutes.meeting)
    )
    assert meeting is not None, f"no demo meeting {demo_minutes.meeting!r} on {table.slug}"
    minutes = await minutes_domain.start_drafting(session, table, meeting.id, actor=secretary)
    assert minutes.document_id is not None
    outline = await documents.text_of(session, minutes.document_id)
    text = written(outline, demo_minutes.paragraphs, demo_minutes.closing)
    await documents.apply_text(session, minutes.document_id, base=outline, new=text, user_id=secretary.user_id)
    if demo_minutes.status == "draft":
        return
    sent = await minutes_domain.send_for_approval(session, table, minutes.id, version=minutes.version, actor=secretary)
    items = await agenda.agenda_of(session, meeting.id)
    for who, position, body in demo_minutes.remarks:
        member = Actor(world.users[who].id, Role.member)
        item_id = items[position - 1].id if position is not None else None
        await minutes_remarks.add_remark(
            session, table, minutes.id, item_id=item_id, parent_id=None, body=body, actor=member
        )
    if demo_minutes.status == "sent":
        return
    row = await session.get(Minutes, sent.minutes.id, populate_existing=True)
    assert row is not None
    approved = await minutes_domain.approve(session, table, minutes.id, version=row.version, actor=chair)
    if demo_minutes.redactions:
        await minutes_domain.set_redactions(session, table, approved.id, list(demo_minutes.redactions), actor=chair)
    if demo_minutes.status == "approved":
        return
    await minutes_domain.build_version(session, approved.id, chair)


@dataclass(frozen=True)
class DemoErratum:
    meeting: str  # the meeting whose published minutes it corrects
    wrong: str  # a passage of the published text
    right: str  # what the erratum says instead


async def publish_errata(
    database: Database, directory: str | os.PathLike[str], created_tables: Iterable[str]
) -> list[MinutesVersion]:
    """Correct the published demo minutes of the tables just created with their erratum, published
    into the archive (run once the demo's versions are in it); the versions published."""
    published = []
    for slug in created_tables:
        for erratum in ERRATA.get(slug, []):
            published.append(await _erratum(database, directory, slug, erratum))
    return published


async def _erratum(
    database: Database, directory: str | os.PathLike[str], slug: str, erratum: DemoErratum
) -> MinutesVersion:
    seats = TABLES_BY_SLUG[slug]
    async with database.transaction() as session:
        table = await session.scalar(select(Table).where(Table.slug == slug))
        assert table is not None
        wanted = {local: email(local) for local in (seats.secretary, seats.chair)}
        found = await session.execute(select(User.email, User.id).where(User.email.in_(wanted.values())))
        ids = dict(found.all())
        secretary = Actor(ids[wanted[seats.secretary]], Role.secretary)
        chair = Actor(ids[wanted[seats.chair]], Role.chair)
        version = await session.scalar(
            select(MinutesVersion)
            .join(Minutes, Minutes.id == MinutesVersion.minutes_id)
            .join(Meeting, Meeting.id == Minutes.meeting_id)
            .where(
                Meeting.table_id == table.id,
                Meeting.title == erratum.meeting,
                MinutesVersion.state == PublicationState.published,
            )
            .order_by(MinutesVersion.number.desc())
        )
        assert version is not None, f"no published minutes of {erratum.meeting!r} to correct"
        document = await minutes_domain.start_erratum(session, table, version.id, actor=secretary)
        text = await documents.text_of(session, document.id)
        assert erratum.wrong in text
        fixed = text.replace(erratum.wrong, erratum.right)
        await documents.apply_text(session, document.id, base=text, new=fixed, user_id=secretary.user_id)
        minutes = await minutes_domain.get_minutes(session, table.id, version.minutes_id)
        sent = await minutes_domain.send_for_approval(
            session, table, minutes.id, version=minutes.version, actor=secretary
        )
        await minutes_domain.approve(session, table, minutes.id, version=sent.minutes.version, actor=chair)
        table_id, minutes_id = table.id, minutes.id

    return await minutes_publishing.publish_minutes(
        database, table_id=table_id, minutes_id=minutes_id, actor=chair, directory=directory
    )


ERRATA: dict[str, list[DemoErratum]] = {
    "commercio-turismo": [
        DemoErratum(
            meeting="Bilancio della stagione turistica",
            wrong="le presenze crescono del 6% sul 2025",
            right="le presenze crescono del 4,5% sul 2025 (il 6% riportato prima era il dato dei soli pernottamenti)",
        ),
    ],
}

MINUTES: dict[str, list[DemoMinutes]] = {
    "commercio-turismo": [
        DemoMinutes(
            meeting="Bilancio della stagione turistica",
            status="published",
            paragraphs={
                1: (
                    "L'Unione dell'Appennino presenta i dati della stagione: le presenze crescono del 6% sul 2025, "
                    "trainate dai cammini e dal turismo escursionistico. Le associazioni di categoria chiedono di "
                    "estendere la stagione a settembre con un calendario comune di eventi."
                ),
                2: (
                    "Il tavolo discute la proposta di destinare una quota del gettito della tassa di soggiorno a "
                    "campagne di promozione comuni tra i Comuni. La CGIL chiede che le campagne valorizzino anche "
                    "il lavoro stagionale regolare."
                ),
            },
            closing="La seduta si chiude alle 17:10.",
        ),
        DemoMinutes(
            meeting="Saldi, Distretti del commercio e negozi di vicinato",
            status="draft",
            paragraphs={
                1: "Il tavolo apre la discussione sulle date dei saldi invernali; il verbale è in corso di scrittura.",
            },
        ),
    ],
    "inclusione": [
        DemoMinutes(
            meeting="L'Albo delle aziende inclusive",
            status="published",
            paragraphs={
                1: (
                    "Il tavolo condivide i criteri di iscrizione all'Albo metropolitano delle aziende inclusive. "
                    "Laura Fabbri, per l'Unione dei Comuni Valli del Reno, Lavino e Samoggia, riferisce il caso di un "
                    "lavoratore in tirocinio presso un'azienda del territorio."
                ),
                2: (
                    "Don Carlo Venturi presenta i risultati del progetto Insieme per il lavoro: oltre mille "
                    "inserimenti in quattro anni, con nuovi destinatari tra donne e giovani."
                ),
            },
            closing="La seduta si chiude alle 16:30.",
            redactions=("Laura Fabbri",),
        ),
    ],
    "sicurezza-lavoro": [
        DemoMinutes(
            meeting="Caldo estremo e cantieri",
            status="sent",
            paragraphs={
                1: "L'AUSL illustra le indicazioni per il lavoro nei cantieri nelle ore più calde della giornata.",
                2: (
                    "L'INAIL presenta i dati 2025 sugli infortuni in itinere, in calo nei Comuni serviti dal "
                    "trasporto pubblico."
                ),
            },
            closing="La seduta si chiude alle 12:45.",
            remarks=(
                ("marco.zanotti", 1, "Manca il riferimento alle pause obbligatorie indicate dall'INAIL."),
                ("francesca.gamberini", None, "Propongo di allegare al verbale il testo dell'ordinanza regionale."),
            ),
        ),
    ],
    "salvaguardia": [
        DemoMinutes(
            meeting="Crisi della Meccanica Savena (nome di fantasia)",
            status="approved",
            paragraphs={
                1: (
                    "L'azienda illustra il piano industriale; le organizzazioni sindacali chiedono garanzie "
                    "occupazionali."
                ),
            },
            closing="La seduta si chiude alle 13:00.",
        ),
    ],
}
