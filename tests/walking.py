"""What the route and socket walkers share (tests/test_walk_routes.py, tests/test_walk_sockets.py).

The walkers find the valid requests the way a person does: they read the pages the app renders
(links, `<form>`s with their action, method and fields, hidden ones included, and the live address
of each page), starting from the home page, in a world of seeded tables where every control is
shown. Then they change one parameter, query parameter or form field at a time to each value of
an awkward corpus, and judge each answer against a snapshot of every row of the database:

- a 2xx/3xx stored the value as it was given (or the field is one that is not stored, see
  `NOT_STORED`), and a redirect stays on the site;
- a 4xx changed nothing;
- a 5xx (or an exception out of the app) is a finding, with the traceback's last frame in the code.

Between two requests the database is put back as it was (every row of every table), so that each
request meets the state its form was rendered from: the same versions, the same records.
"""

from __future__ import annotations

import contextlib
import functools
import re
import secrets
import shutil
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
from argon2 import PasswordHasher
from selectolax.lexbor import LexborHTMLParser, LexborNode
from sqlalchemy import delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import BaseRoute, Match, Route
from starlette.testclient import TestClient

from server.app import create_app, routes
from server.config import Settings
from server.db.models import Base, ProposalStatus, Role, User
from server.domain import accounts
from server.i18n import TIMEZONE
from tests.conftest import BASE_URL, PG_URL, SECRET, _truncate, run_async
from tests.support import PASSWORD, Board, Seed, in_transaction, login

# --- the corpus ----------------------------------------------------------------------------------

# One value at a time goes into one path parameter, query parameter or form field.
CORPUS: dict[str, str] = {
    "non-ascii": "perché",
    "accent-alone": "é",
    "superscript-digit": "²",
    "arabic-indic-digit": "٣",
    "fullwidth-digit": "１２",
    "digits-20": "12345678901234567890",
    "digits-5000": "9" * 5_000,
    "negative": "-1",
    "zero": "0",
    "empty": "",
    "string-100kb": "perché " * 14_628 + "perché",  # 102,396 bytes of UTF-8 (8 KB in an address)
    "nul": "a\x00b",
}
# Values worth a request only in a field of their kind (in a title, "2031-02-30" is a title), and in
# every query parameter, whose kind no form says.
BY_KIND: dict[str, dict[str, str]] = {
    "date": {
        "date-february-30": "2031-02-30",
        "date-year-1": "0001-01-01",
        "date-year-9999": "9999-12-31",
        "date-not-iso": "31/12/2031",
    },
    "time": {"time-25": "25:61", "time-24": "24:00"},
    "url": {"url-broken": "https://[", "url-script": "javascript:alert(1)"},
}
# Stand-ins for what is not one string: the field left out, sent twice, sent as a file.
ABSENT = "(absent)"
TWICE = "(twice)"
AS_FILE = "(as a file)"
SHAPES = (ABSENT, TWICE, AS_FILE)
# An address longer than this is refused by the client itself (and by every server's request line).
ADDRESS_LIMIT = 8_192


def corpus(kind: str | None = None, *, shapes: bool = True, in_address: bool = False) -> Iterator[tuple[str, str]]:
    """(label, value) for every awkward value, with those of a field's `kind` ("any": all of them),
    then the shapes (label == value) if asked; in an address, a long value is cut to `ADDRESS_LIMIT`."""
    values = dict(CORPUS)
    for each, more in BY_KIND.items():
        if kind in (each, "any"):
            values.update(more)
    for label, value in values.items():
        yield label, value[:ADDRESS_LIMIT] if in_address else value
    if shapes:
        for shape in SHAPES:
            yield shape, shape


# --- the table of what cannot be discovered -------------------------------------------------------
#
# Everything else comes from the pages: these are the only things a walker is told.

# Field values that no rendered form suggests: (route name, field) -> value, or a function of the world.
FILL: dict[tuple[str, str], str | Callable[[World], str]] = {
    ("login", "email"): lambda world: world.actor_email,  # an account's address and password
    ("login", "password"): PASSWORD,
    ("table_members", "email"): "outsider@example.org",  # an account that is not yet on the table
    # Speaking times in minutes ("4", "2:30"): what the form shows, changed, would be no time.
    ("meeting_speaking_time", "speaking_time"): "4",
    ("item_speaking_time", "speaking_time"): "2:30",
    ("table_settings", "quorum"): "50%",  # a number or a share of the member organisations
    # A position with a reservation, so that the reservation's text is stored (other kinds clear it).
    ("record_position", "kind"): "reservation",
    ("record_position", "reservation"): "Sui tempi.",
    ("record_my_position", "kind"): "reservation",
    ("record_my_position", "reservation"): "Sui tempi.",
    # A passage to leave out of the public copy must be in the text: the outline's title is.
    ("redact_minutes", "passages"): "Seduta",
    # Signing asks for the signer's password again; a party's signers are accounts, by e-mail.
    ("sign_protocol_post", "password"): PASSWORD,
    ("update_protocol_party", "substitute"): "observer@example.org",
    ("add_protocol_annex", "file"): "%PDF-1.4 un allegato",  # what a PDF starts with (tests/test_uploads.py)
    # A firma digitale: a PEM .p7m of the open protocol's stored PDF, signed as the chair (`furnish_qualified`).
    ("sign_protocol_qualified", "password"): PASSWORD,
    ("sign_protocol_qualified", "file"): lambda world: QUALIFIED["p7m"],
}
# What `furnish_qualified` made for the walk's forms: the chair's .p7m ("p7m", PEM text).
QUALIFIED: dict[str, str] = {}
# Requests that no page of the seeded world links to or renders a form for: (route name, method)
# -> the address (with {placeholders} of the world's ids), for routes whose query a page builds
# only in states the walk does not reach. For a POST, the query is the form's fields (the session's
# `csrf_token` is added), as a form no page renders would send them.
ADDRESSES: dict[tuple[str, str], str] = {
    ("healthz", "GET"): "/healthz",  # for load balancers; no page links to it
    # The "older events" link appears only after 50 events.
    ("table_history", "GET"): "/tavoli/{slug}/cronologia?prima=5",
    # The feed of all public tables is for feed readers; a public table's feed (the walk's own tables
    # are private: their feed is 404) is linked from its public face.
    ("minutes_feed", "GET"): "/verbali.atom",
    ("table_minutes_feed", "GET"): "/tavoli/verbali-pubblici/verbali.atom",
    # The crawl reads three meetings' pages, whose minutes are further on: a meeting without any.
    ("start_minutes", "POST"): "/tavoli/{slug}/sedute/{unstarted_meeting_id}/verbale/avvia",
    # The room screen's script posts a room link's secret, read from the address's fragment.
    ("room_access", "POST"): "/tavoli/{slug}/sedute/{meeting_id}/sala/accesso?secret={room_secret}",
}
# Form fields whose value is not stored as it was typed, and why: a 2xx/3xx is all that is asked of
# them (a redirect still stays on the site).
NOT_STORED: dict[str, str] = {
    "csrf_token": "compared with the session's token, never stored",
    "next": "where to go after logging in or switching language, checked by safe_next",
    "version": "compared with the record's version (409 when it differs), never stored",
    "client_key": "an idempotency key the page made up, never shown: it may be cut (within its column)",
    "locale": "one of the languages (400 otherwise); stored when it is one",
    "minutes_text": "applied to the minutes' document as Yjs updates (binary; tests/test_minutes_web.py reads it)",
    "protocol_text": "applied to the protocol's document as Yjs updates (binary; tests/test_protocols_web.py reads it)",
}
# Refusals that are allowed to write: (route name) -> the tables they may add rows to, and why.
REFUSALS_THAT_WRITE: dict[str, tuple[set[str], str]] = {
    "login": ({"login_attempts"}, "a failed login is counted, to slow down whoever guesses passwords"),
}
# Links the crawl does not follow (they are forms, or lead off the site).
SKIPPED_PREFIXES = ("/static/", "/ws/")


# --- the world ----------------------------------------------------------------------------------


ANONYMOUS, ACTOR = "anonymous", "actor"


@dataclass
class World:
    """The seeded tables, the person who walks them, and what the pages showed."""

    client: TestClient
    seed: Seed
    read: Reader
    board: Board
    actor_email: str
    writes: int = 0  # the write counter when the database was last as the baseline has it
    cookies: dict[str, str] = field(default_factory=dict)
    anonymous_cookies: dict[str, str] = field(default_factory=dict)
    baseline: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    pages: dict[str, str] = field(default_factory=dict)  # address -> HTML, as the actor saw it
    anonymous_pages: dict[str, str] = field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        room_secret = getattr(self.board, "room_secret", "")
        unstarted = getattr(self.board, "unstarted_meeting", 0)  # a meeting without minutes (furnish_minutes)
        return {
            "slug": self.board.table.slug,
            "meeting_id": self.board.meeting.id,
            "room_secret": room_secret,
            "unstarted_meeting_id": unstarted,
        }


def furnish(seed: Seed, board: Board) -> None:
    """Add to the board what makes every control appear: proposals in each status, an endorsed one,
    a draft with two saved versions, an approved one (whose page offers to carry it out), an action item.

    The chair, who sits for an organisation that co-authors them, is made an administrator too, so
    that one person sees (and may use) every control of every page.
    """
    from sqlalchemy import update

    from server.domain import documents, proposal_bodies, proposals
    from server.domain.actions import Actor

    seed.run(lambda s: s.execute(update(User).where(User.id == board.chair.id).values(is_admin=True)))
    board.action()
    board.proposal()  # submitted, with a comment by the chair
    chair = Actor(board.chair.id, Role.chair)

    async def more(session: AsyncSession) -> None:
        def text(title: str, body: str = "Il testo.") -> Any:
            return proposals.parse_text(title=title, summary="In breve.", body=body)

        draft = await proposals.create_proposal(session, board.table, text("Bozza"), [board.ascom.slug], actor=chair)
        await proposals.update_draft(
            session, board.table, draft.id, text("Bozza", "Prima stesura."), version=1, actor=chair, save_version=True
        )
        await proposals.update_draft(
            session, board.table, draft.id, text("Bozza", "Seconda stesura."), version=2, actor=chair, save_version=True
        )
        # Typed in the document after the last kept version: "keep this version" has something to keep.
        body = await proposal_bodies.document_of(session, draft)
        await documents.apply_text(
            session, body.id, base="Seconda stesura.", new="Seconda stesura, ritoccata.", user_id=chair.user_id
        )
        discussed = await proposals.create_proposal(
            session, board.table, text("In discussione"), [board.ascom.slug], actor=chair
        )
        for status in (ProposalStatus.submitted, ProposalStatus.under_discussion):
            discussed = await proposals.set_status(
                session, board.table, discussed.id, status, version=discussed.version, actor=chair
            )
        await proposals.endorse(session, board.table, discussed.id, actor=chair)
        approved = await proposals.create_proposal(
            session, board.table, text("Approvata"), [board.ascom.slug], actor=chair
        )
        for status in (ProposalStatus.submitted, ProposalStatus.under_discussion, ProposalStatus.approved):
            approved = await proposals.set_status(
                session, board.table, approved.id, status, version=approved.version, actor=chair, outcome="Sì."
            )

    seed.run(more)
    furnish_meeting_room(seed, board)
    furnish_decisions(seed, board)
    furnish_minutes(seed, board)


def furnish_meeting_room(seed: Seed, board: Board) -> None:
    """The board's meeting in progress, with every control of the meeting room shown: check-in open
    (the chair's organisation not yet present, nor asking to speak), the first item under discussion
    with a speaking time of its own, one organisation speaking and two requests waiting, a room link;
    and a second meeting, still convened, to open."""
    from server.db.models import AgendaStatus
    from server.domain import agenda, meeting_life, meetings, room_links, speakers

    table, meeting, item = board.table, board.meeting, board.items[0]

    async def run(session: AsyncSession) -> None:
        marks = {o.id: (True, "") for o in (board.cgil, board.cna)}
        await meetings.record_attendance(session, table, meeting.id, marks, version=0, actor_id=None)
        await meeting_life.open_meeting(session, table, meeting.id, actor_id=board.chair.id)
        await meeting_life.set_check_in(session, table, meeting.id, True, actor_id=board.chair.id)
        await agenda.set_status(session, table, meeting.id, item.id, AgendaStatus.current, version=1, actor_id=None)
        await speakers.set_item_time(session, table, meeting.id, item.id, 120, actor_id=None)
        speaking = await speakers.add(session, table, meeting.id, item.id, board.cgil.id, actor_id=None)
        await speakers.start(session, table, meeting.id, speaking.id, actor_id=None)
        await speakers.add(session, table, meeting.id, item.id, board.cna.id, actor_id=None)
        await speakers.add(session, table, meeting.id, item.id, board.cgil.id, actor_id=None, point_of_order=True)
        made = await room_links.create_link(session, table, meeting.id, key=SECRET, actor_id=board.chair.id)
        board.room_secret = made.secret  # type: ignore[attr-defined]
        later = meetings.parse_meeting(
            title="Seduta di gennaio", day="2032-01-20", hour="15:00", place="Sala", online_url=""
        )
        await meetings.create_meeting(session, table, later, actor_id=board.chair.id)

    seed.run(run)


def furnish_decisions(seed: Seed, board: Board) -> None:
    """A decision on the running meeting's second item (its roll call to open, its positions entered
    by the secretary), an action item from that item (which links back to it); and a third meeting in
    progress where the chair's organisation is present, with a roll call open (the chair records its
    position as its delegate)."""
    from server.domain import actions, decisions, meeting_life, meetings
    from server.domain.actions import Actor

    chair = Actor(board.chair.id, Role.chair)
    table, item = board.table, board.items[1]

    async def run(session: AsyncSession) -> None:
        await decisions.record_decision(
            session, table, item.id, kind="agreed", text="Si approva.", proposal_id=None, actor=chair
        )
        values = actions.parse_action(title="Dal punto", description="", owner=str(board.member.id), due_on="")
        await actions.create_action(session, table, values, actor_id=None, origin_item_id=item.id)
        third = meetings.parse_meeting(
            title="Seduta straordinaria", day="2031-12-10", hour="09:00", place="Sala", online_url=""
        )
        extra = await meetings.create_meeting(session, table, third, actor_id=board.chair.id)
        added = await agenda_item(session, extra.id)
        marks = {board.ascom.id: (True, "Chair")}
        await meetings.record_attendance(session, table, extra.id, marks, version=0, actor_id=None)
        await meeting_life.open_meeting(session, table, extra.id, actor_id=board.chair.id)
        decision = await decisions.record_decision(
            session, table, added.id, kind="agreed", text="Si prende atto.", proposal_id=None, actor=chair
        )
        await decisions.open_roll_call(session, table, decision.id, actor=chair)

    async def agenda_item(session: AsyncSession, meeting_id: int) -> Any:
        from server.domain import agenda

        values = agenda.parse_item(title="Punto unico", description="", presenter="", planned_minutes="")
        return await agenda.add_item(session, table, meeting_id, values, actor_id=None)

    seed.run(run)


def furnish_minutes(seed: Seed, board: Board) -> Any:
    """Minutes at every point of their life on the meetings whose pages the crawl reads (the three
    soonest), so that every control of the minutes' pages shows: the board's meeting has a draft (to
    send, to save without JavaScript, to remark on, to record an action item from); the
    extraordinary meeting's is sent (back to draft, approve, redact); January's is approved (publish,
    redact). A March meeting's (after those three, so that the crawl leaves its page), approved too,
    `publish_furnished_minutes` publishes once the app runs (its page, downloads and erratum, from
    the home's list); an April meeting has none (to start, `ADDRESSES`). A public table of its own
    has the feed a public table has."""
    from sqlalchemy import select

    from server.db.models import Meeting
    from server.domain import agenda, meetings
    from server.domain import minutes as minutes_domain
    from server.domain.actions import Actor

    chair, secretary = Actor(board.chair.id, Role.chair), Actor(board.secretary.id, Role.secretary)
    table = board.table
    seed.table("verbali-pubblici", "Tavolo dei verbali pubblici", public=True)

    async def later(session: AsyncSession, title: str, day: str) -> Any:
        values = meetings.parse_meeting(title=title, day=day, hour="10:00", place="Sala", online_url="")
        made = await meetings.create_meeting(session, table, values, actor_id=board.chair.id)
        item = agenda.parse_item(title="Comunicazioni", description="", presenter="", planned_minutes="")
        await agenda.add_item(session, table, made.id, item, actor_id=None)
        return made

    async def named(session: AsyncSession, title: str) -> Any:
        found = await session.scalar(select(Meeting).where(Meeting.table_id == table.id, Meeting.title == title))
        assert found is not None
        return found

    async def minutes_to(session: AsyncSession, meeting_id: int, status: str) -> Any:
        minutes = await minutes_domain.start_drafting(session, table, meeting_id, actor=secretary)
        if status == "draft":
            return minutes
        sent = await minutes_domain.send_for_approval(
            session, table, minutes.id, version=minutes.version, actor=secretary
        )
        if status == "sent":
            return sent.minutes
        return await minutes_domain.approve(session, table, minutes.id, version=sent.minutes.version, actor=chair)

    async def run(session: AsyncSession) -> None:
        await minutes_to(session, board.meeting.id, "draft")
        await minutes_to(session, (await named(session, "Seduta straordinaria")).id, "sent")
        await minutes_to(session, (await named(session, "Seduta di gennaio")).id, "approved")
        march = await later(session, "Seduta di marzo", "2032-03-10")
        board.published_minutes = (await minutes_to(session, march.id, "approved")).id  # type: ignore[attr-defined]
        board.unstarted_meeting = (await later(session, "Seduta di aprile", "2032-04-14")).id  # type: ignore[attr-defined]

    seed.run(run)


async def publish_furnished_minutes(database: Any, directory: str, board: Board) -> None:
    """March's approved minutes, published into the walk's archive by the publishing protocol."""
    from server.domain import minutes as minutes_domain
    from server.domain import minutes_publishing
    from server.domain.actions import Actor

    chair = Actor(board.chair.id, Role.chair)
    minutes_id: int = board.published_minutes  # type: ignore[attr-defined]

    async def build(session: AsyncSession) -> Any:
        return await minutes_domain.build_version(session, minutes_id, chair)

    await minutes_publishing.publish(
        database,
        table_id=board.table.id,
        minutes_id=minutes_id,
        build=build,
        actor_id=chair.user_id,
        directory=directory,
    )


def furnish_protocols(seed: Seed, board: Board, key_file: str) -> None:
    """Protocols at every point of their life, each reached from the table's list: a draft with a
    party and an annex (its details, text, parties and annexes to change, to open); one open for
    signature for which the chair signs (back to draft, the signing page and form, the bundle); one
    in force with a commitment (its owner to assign)."""
    from server.domain import documents, protocol_annexes, protocol_keys, protocol_parties, protocols, signatures
    from server.domain.actions import Actor

    chair = Actor(board.chair.id, Role.chair)
    key = protocol_keys.ensure_key_file(key_file)[0]
    ascom = board.ascom.name

    async def make(session: AsyncSession, title: str, text: str, parties: list[tuple[int, str, str]]) -> Any:
        values = protocols.parse_protocol(kind="procurement", title=title)
        protocol = await protocols.create_protocol(session, board.table, values, actor=chair)
        document = await protocols.protocol_document(session, protocol)
        assert document is not None
        await documents.apply_text(session, document.id, base=f"# {title}\n\n", new=text, user_id=chair.user_id)
        for organisation_id, email, substitute in parties:
            signers = protocol_parties.parse_party(
                organisation=str(organisation_id), external_name="", signatory=email, substitute=substitute
            )
            await protocol_parties.add_party(session, board.table, protocol.id, signers, actor=chair)
        return protocol

    async def run(session: AsyncSession) -> None:
        clause = f"# Testo\n\n### Impegno — {ascom} — entro 2032-01-31\n\nFare.\n"
        cna_clause = clause.replace(ascom, board.cna.name)
        draft = await make(session, "Protocollo in bozza", cna_clause, [(board.cna.id, "secretary@example.org", "")])
        await protocol_annexes.add_annex(
            session, board.table, draft.id, name="Allegato", filename="a.pdf", data=b"%PDF-1.4\n", actor=chair
        )
        parties = [(board.ascom.id, "chair@example.org", ""), (board.cgil.id, "member@example.org", "")]
        opened = await make(session, "Protocollo aperto alla firma", clause, parties)
        await protocols.open_for_signature(session, board.table, opened.id, version=opened.version, actor=chair)
        # with a substitute: the commitment's action item has another owner to be given
        signers = [(board.ascom.id, "chair@example.org", "observer@example.org")]
        in_force = await make(session, "Protocollo in vigore", clause, signers)
        moved = await protocols.open_for_signature(
            session, board.table, in_force.id, version=in_force.version, actor=chair
        )
        states = await protocols.party_states(session, moved.protocol)
        await signatures.sign(
            session,
            board.table,
            in_force.id,
            party_id=states[0].party.id,
            actor_user_id=chair.user_id,
            password=PASSWORD,
            key=key,
        )

    seed.run(run)


def furnish_qualified(seed: Seed, board: Board, key_file: str, trust: Path) -> None:
    """A firma digitale for the walk (server/web/protocols.py): a test CA whose root `trust`
    holds (the walk's TAVOLI_TRUST_DIR), the protocols' stored PDF, CGIL's qualified adhesion (its
    file downloadable; a signer's name that differs, accepted by the chair), and a .p7m for the chair,
    Ascom's signatory, to upload (`QUALIFIED`)."""
    from server.domain import protocol_keys, protocol_parties, protocol_seal, protocols, qualified
    from server.domain.actions import Actor
    from tests.qualified_ca import TestCA, sample_pdf, sign_cades

    ca = TestCA.make()
    trust.mkdir(exist_ok=True)
    (trust / "root.pem").write_bytes(ca.root_pem)
    stored = sample_pdf("Protocollo aperto alla firma")
    key = protocol_keys.current_key(key_file)

    async def run(session: AsyncSession) -> None:
        # The open protocol of `furnish_protocols` keeps this PDF (the chair's .p7m is of it) and stays
        # unsigned (back to draft); the protocol in force keeps it too, and CGIL adheres to it with its
        # firma digitale (no other protocol: the crawl fetches three protocols' pages).
        chair = Actor(board.chair.id, Role.chair)
        protocol = None
        for found in await protocols.protocols_of(session, board.table.id):
            if found.status.value in ("open", "in_force"):
                version = await protocols.current_version(session, found.id)
                assert version is not None
                await protocol_seal.keep_pdf(session, version.id, stored)
            if found.status.value == "in_force":
                protocol = found
        assert protocol is not None
        signers = protocol_parties.parse_party(
            organisation=str(board.cgil.id), external_name="", signatory="member@example.org", substitute=""
        )
        await protocol_parties.add_party(session, board.table, protocol.id, signers, actor=chair)
        states = await protocols.party_states(session, protocol)
        cgil = next(state.party for state in states if state.party.organisation_id == board.cgil.id)
        await qualified.record_qualified(
            session,
            board.table,
            protocol.id,
            party_id=cgil.id,
            data=await sign_cades(stored, ca.person("Carla", "Neri")),
            file_name="cgil.pdf.p7m",
            actor_user_id=board.chair.id,
            password=PASSWORD,
            accept_warning=True,
            key=key,
            roots=qualified.trust_roots(trust),
        )
        QUALIFIED["p7m"] = (await sign_cades(stored, ca.person(board.chair.name, ""), pem=True)).decode("ascii")

    seed.run(run)


# --- one app and one seeded database for a whole walk -------------------------------------------
#
# Built once for the module (not with the per-test `client`/`board` fixtures of conftest.py, which it
# otherwise mirrors) because every route's walk starts from the same rows: the database is put back
# after each request that changed it, so ~40 routes do not each pay for seeding and crawling.


@contextlib.contextmanager
def cheap_passwords() -> Iterator[str]:
    """Passwords hashed and checked with argon2's smallest cost: the walk tries the login form a
    hundred times, and what it tests is the form, not the hash (tests/test_accounts_web.py is about that)."""
    hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "_hasher", lambda: hasher, raising=False)
        getattr(accounts, "_dummy_hash", functools.cache(lambda: "")).cache_clear()
        yield hasher.hash(PASSWORD)
    getattr(accounts, "_dummy_hash", functools.cache(lambda: "")).cache_clear()


@contextlib.contextmanager
def opened_world(template_database: str, folder: Path) -> Iterator[World]:
    """The app on a database of its own, the board furnished, the pages crawled as a visitor and as
    the chair, and the rows as they are then (the baseline every request is judged against).

    Built once for a test module (not with the per-test `client`/`board` fixtures of conftest.py,
    which it otherwise mirrors) because every request of the walk starts from the same rows: the
    database is put back after each request that changed it, so ~50 routes do not each pay for
    seeding and crawling.
    """
    if PG_URL:
        run_async(_truncate(PG_URL))
        url = PG_URL
    else:
        shutil.copyfile(template_database, folder / "tavoli.db")
        url = f"sqlite+aiosqlite:///{folder / 'tavoli.db'}"
    settings = Settings(
        database_url=url,
        base_url=BASE_URL,
        secret_key=SECRET,
        minutes_dir=str(folder / "minutes"),
        signing_key_file=str(folder / "signing.key"),
        trust_dir=str(folder / "trust"),
    )
    with cheap_passwords() as password_hash, TestClient(create_app(settings), base_url=BASE_URL) as client:
        database = client.app.state.database  # type: ignore[attr-defined]
        assert client.portal is not None
        portal = client.portal
        seed = Seed(lambda change: portal.call(in_transaction, database, change), password_hash)
        board = Board(seed)
        furnish(seed, board)
        furnish_protocols(seed, board, settings.signing_key_file)
        furnish_qualified(seed, board, settings.signing_key_file, Path(settings.trust_dir))
        portal.call(publish_furnished_minutes, database, settings.minutes_dir, board)
        read = functools.partial(portal.call, in_read, database)
        walk = World(client, seed, read, board, actor_email="chair@example.org")
        walk.anonymous_pages = crawl(client, ["/", "/login", "/accessibilita"], ROUTES)
        walk.anonymous_cookies = dict(client.cookies)
        assert login(client, walk.actor_email).status_code == 303
        walk.cookies = dict(client.cookies)
        walk.pages = crawl(client, ["/", "/azioni", f"/tavoli/{board.table.slug}"], ROUTES)
        walk.baseline = snapshot(read)
        watch(seed)
        walk.writes = writes(read)
        try:
            yield walk
        finally:
            unwatch(seed)


def as_(world: World, who: str) -> None:
    world.client.cookies.clear()
    world.client.cookies.update(world.cookies if who == ACTOR else world.anonymous_cookies)


def put_back(world: World) -> None:
    """The database as the walk found it, and the page cache emptied (its keys are sequence numbers
    that the table will take again, for other contents)."""
    restore(world.seed, world.baseline)
    world.writes = writes(world.read)
    world.client.app.state.page_cache._entries.clear()  # type: ignore[attr-defined]


# --- the database, row by row ---------------------------------------------------------------------

Rows = dict[str, list[dict[str, Any]]]


Reader = Callable[[Callable[[AsyncSession], Any]], Any]


async def in_read(database: Any, query: Callable[[AsyncSession], Any]) -> Any:
    async with database.read() as session:
        return await query(session)


def snapshot(read: Reader) -> Rows:
    """Every row of every table, in primary-key order."""

    async def rows_of(session: AsyncSession) -> Rows:
        rows: Rows = {}
        for table in Base.metadata.sorted_tables:
            result = await session.execute(select(table).order_by(*table.primary_key.columns))
            rows[table.name] = [dict(row._mapping) for row in result]
        return rows

    return read(rows_of)  # type: ignore[no-any-return]


def restore(seed: Seed, rows: Rows) -> None:
    """Put every table back as `rows` has it (children emptied first, parents filled first)."""

    async def write(session: AsyncSession) -> None:
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(delete(table))
        for table in Base.metadata.sorted_tables:
            if rows.get(table.name):
                await session.execute(insert(table), rows[table.name])

    seed.run(write)


WATCH = "walk_writes"


def watch(seed: Seed) -> None:
    """Count every write to every table (triggers bumping one counter), so that a request that wrote
    nothing costs one query to check instead of a snapshot. The walk's own database only."""

    async def install(session: AsyncSession) -> None:
        postgres = session.bind.dialect.name == "postgresql"
        if postgres:  # left by a walk that was interrupted
            await session.execute(text(f"DROP FUNCTION IF EXISTS {WATCH}_count() CASCADE"))
        await session.execute(text(f"DROP TABLE IF EXISTS {WATCH}"))
        await session.execute(text(f"CREATE TABLE {WATCH} (n BIGINT NOT NULL)"))
        await session.execute(text(f"INSERT INTO {WATCH} VALUES (0)"))
        if postgres:
            await session.execute(
                text(
                    f"CREATE FUNCTION {WATCH}_count() RETURNS trigger LANGUAGE plpgsql AS "
                    f"$$ BEGIN UPDATE {WATCH} SET n = n + 1; RETURN NULL; END $$"
                )
            )
        for table in Base.metadata.sorted_tables:
            if postgres:
                await session.execute(
                    text(
                        f"CREATE TRIGGER {WATCH}_{table.name} AFTER INSERT OR UPDATE OR DELETE ON {table.name} "
                        f"FOR EACH STATEMENT EXECUTE FUNCTION {WATCH}_count()"
                    )
                )
                continue
            for operation in ("INSERT", "UPDATE", "DELETE"):
                await session.execute(
                    text(
                        f"CREATE TRIGGER {WATCH}_{table.name}_{operation.lower()} AFTER {operation} ON {table.name} "
                        f"BEGIN UPDATE {WATCH} SET n = n + 1; END"
                    )
                )

    seed.run(install)


def unwatch(seed: Seed) -> None:
    """Remove the counter and its triggers (PostgreSQL's test database outlives the walk)."""

    async def remove(session: AsyncSession) -> None:
        if session.bind.dialect.name == "postgresql":
            await session.execute(text(f"DROP TABLE {WATCH}"))
            await session.execute(text(f"DROP FUNCTION {WATCH}_count() CASCADE"))
            return
        for table in Base.metadata.sorted_tables:
            for operation in ("insert", "update", "delete"):
                await session.execute(text(f"DROP TRIGGER {WATCH}_{table.name}_{operation}"))
        await session.execute(text(f"DROP TABLE {WATCH}"))

    seed.run(remove)


def writes(read: Reader) -> int:
    """How many writes the database has seen since `watch`."""
    return read(lambda session: session.scalar(text(f"SELECT n FROM {WATCH}")))  # type: ignore[no-any-return]


def changes(before: Rows, after: Rows) -> dict[str, list[dict[str, Any]]]:
    """The rows of `after` that `before` does not have as they are (added or changed), by table."""
    found: dict[str, list[dict[str, Any]]] = {}
    for name, rows in after.items():
        old = before.get(name, [])
        new = [row for row in rows if row not in old]
        gone = [row for row in old if row not in rows]
        if new or gone:
            found[name] = new
    return found


def unportable(changed: dict[str, list[dict[str, Any]]]) -> str | None:
    """What PostgreSQL would refuse among stored rows, though SQLite took it: a string longer than
    its column's declared length, a NUL character (a 500 there, on the same request)."""
    for name, rows in changed.items():
        columns = Base.metadata.tables[name].columns
        for row in rows:
            for column, value in row.items():
                if not isinstance(value, str):
                    continue
                length = getattr(columns[column].type, "length", None)
                if length is not None and len(value) > length:
                    return f"{name}.{column} holds {len(value)} characters, over its {length}"
                if "\x00" in value:
                    return f"{name}.{column} holds a NUL character, which PostgreSQL refuses"
    return None


def matches(stored: Any, given: str) -> bool:
    """Whether a stored column holds `given` as it was typed (dates and times as a form shows them)."""
    if isinstance(stored, str):  # also StrEnum
        return stored == given
    if isinstance(stored, bool) or stored is None:
        return False
    if isinstance(stored, int):
        return str(stored) == given
    if isinstance(stored, datetime):
        local = (stored if stored.tzinfo else stored.replace(tzinfo=UTC)).astimezone(TIMEZONE)
        return given in (local.date().isoformat(), local.strftime("%H:%M"), stored.isoformat())
    if isinstance(stored, date):
        return stored.isoformat() == given
    if isinstance(stored, Enum):
        return str(stored.value) == given
    if isinstance(stored, dict):
        return any(matches(value, given) for value in stored.values())
    if isinstance(stored, list | tuple):
        return any(matches(value, given) for value in stored)
    return False


def holds(rows: dict[str, list[dict[str, Any]]], given: str) -> bool:
    return any(matches(value, given) for table in rows.values() for row in table for value in row.values())


# --- pages, links and forms ------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One named control of a form, as the browser would send it."""

    name: str
    value: str
    kind: str  # text, textarea, hidden, select, checkbox, radio, email, date, time, url, number, submit…
    options: tuple[str, ...] = ()
    checked: bool = False
    required: bool = False


@dataclass(frozen=True)
class Form:
    action: str  # a path, with its query
    method: str
    fields: tuple[Field, ...]
    page: str  # where it was found
    htmx: bool = False

    def names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields if f.kind != "submit")

    def filled(self) -> frozenset[str]:
        """The names of the fields that come with a value (hidden ids such as `proposal` or `parent`)."""
        return frozenset(f.name for f in self.fields if f.kind == "hidden" and f.value)


def _attr(node: LexborNode, name: str) -> str:
    value = node.attributes.get(name)
    return value if isinstance(value, str) else ""


def forms_of(html: str, page: str) -> list[Form]:
    """Every `<form>` of a page with its fields; a form with several named submit buttons gives one
    Form per button (what each button sends), and a disabled button sends nothing."""
    found: list[Form] = []
    for node in LexborHTMLParser(html).css("form"):
        method = (_attr(node, "method") or "get").upper()
        action = _attr(node, "action") or page
        fields: list[Field] = []
        buttons: list[Field] = []
        enabled_submit = False
        for control in node.css("input, textarea, select, button"):
            name, tag = _attr(control, "name"), control.tag
            kind = (_attr(control, "type") or ("submit" if tag == "button" else "text")).lower()
            if tag == "textarea":
                kind = "textarea"
            if tag == "select":
                kind = "select"
            if kind == "submit":
                if "disabled" not in control.attributes:
                    enabled_submit = True
                    if name:
                        buttons.append(Field(name, _attr(control, "value"), "submit"))
                continue
            if not name or "disabled" in control.attributes:
                continue
            required = "required" in control.attributes
            if kind == "textarea":
                fields.append(Field(name, control.text(deep=True), kind, required=required))
            elif kind == "select":
                options = tuple(_attr(o, "value") for o in control.css("option"))
                chosen = [_attr(o, "value") for o in control.css("option") if "selected" in o.attributes]
                value = chosen[0] if chosen else (options[0] if options else "")
                fields.append(Field(name, value, kind, options, required=required))
            elif kind in ("checkbox", "radio"):
                checked = "checked" in control.attributes
                fields.append(Field(name, _attr(control, "value") or "on", kind, checked=checked, required=required))
            else:
                fields.append(Field(name, _attr(control, "value"), kind, required=required))
        if not enabled_submit:
            continue
        htmx = bool(_attr(node, "hx-post") or _attr(node, "hx-get"))
        for button in buttons or [None]:
            with_button = (*fields, button) if button else tuple(fields)
            found.append(Form(action, method, with_button, page, htmx))
    return found


def links_of(html: str) -> list[str]:
    """The site's own addresses a page links to (without their #fragment)."""
    found = []
    for node in LexborHTMLParser(html).css("a[href]"):
        href = _attr(node, "href").split("#", 1)[0]
        if href.startswith("/") and not href.startswith("//") and not href.startswith(SKIPPED_PREFIXES):
            found.append(href)
    return found


def live_addresses(html: str) -> list[str]:
    """The table-socket addresses a page opens (htmx-ext-ws's `ws-connect`)."""
    return [_attr(node, "ws-connect") for node in LexborHTMLParser(html).css("[ws-connect]")]


def get_form_addresses(form: Form) -> list[str]:
    """The addresses a GET form leads to: as rendered, and with each select set to each of its options."""
    base = [(f.name, f.value) for f in form.fields if f.kind not in ("checkbox", "radio", "submit") or f.checked]
    path = form.action.split("#", 1)[0]
    found = [f"{path}?{urlencode(base)}"]
    for index, each in enumerate(form.fields):
        if each.kind == "select":
            for option in each.options:
                pairs = [(n, option if i == index else v) for i, (n, v) in enumerate(base)]
                found.append(f"{path}?{urlencode(pairs)}")
        if each.kind == "checkbox" and not each.checked:
            found.append(f"{path}?{urlencode([*base, (each.name, each.value)])}")
    return found


class Routes:
    """The app's HTTP routes, and which of them an address and method reach."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self.routes = [r for r in routes if isinstance(r, Route)]

    def pairs(self) -> list[tuple[Route, str]]:
        return [(r, m) for r in self.routes for m in sorted((r.methods or set()) - {"HEAD"})]

    def reaching(self, address: str, method: str) -> list[Route]:
        """Every route that matches the address: a protocol's public face hands its people over to
        the protocol's own route of the same address (server/web/public.py, `ProtocolFace`)."""
        path = urlsplit(address).path
        scope = {"type": "http", "path": path, "method": method}
        return [route for route in self.routes if route.matches(scope)[0] is Match.FULL]

    def find(self, address: str, method: str) -> tuple[Route, dict[str, Any]] | None:
        path = urlsplit(address).path
        for route in self.routes:
            scope = {"type": "http", "path": path, "method": method}
            match, child = route.matches(scope)
            if match is Match.FULL:
                return route, child["path_params"]
        return None


ROUTES = Routes(routes())


def crawl(client: TestClient, starts: Iterable[str], routes: Routes, *, per_shape: int = 3) -> dict[str, str]:
    """The pages reached from `starts` by links and GET forms: address -> HTML.

    At most `per_shape` addresses of one route with the same query parameter names are fetched,
    so that a list of a hundred records costs three pages, not a hundred.
    """
    pages: dict[str, str] = {}
    shapes: dict[tuple[str, frozenset[str]], int] = {}
    queue = list(starts)
    while queue:
        address = queue.pop(0)
        if address in pages:
            continue
        found = routes.find(address, "GET")
        if found is None:
            continue
        shape = (found[0].path, frozenset(k for k, _v in parse_qsl(urlsplit(address).query)))
        if shapes.get(shape, 0) >= per_shape:
            continue
        shapes[shape] = shapes.get(shape, 0) + 1
        response = client.get(address, follow_redirects=False)
        if response.status_code != 200 or "text/html" not in response.headers.get("content-type", ""):
            pages[address] = ""
            continue
        pages[address] = response.text
        queue.extend(links_of(response.text))
        for form in forms_of(response.text, address):
            if form.method == "GET":
                queue.extend(get_form_addresses(form))
    return pages


# --- requests ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request: its method, address, the form's pairs, and how they are sent."""

    method: str
    address: str
    pairs: tuple[tuple[str, str], ...] = ()
    encoding: str = "form"  # form, multipart, raw
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    files: frozenset[str] = frozenset()  # names sent as file parts (multipart)
    label: str = "valid"

    def describe(self) -> str:
        return f"{self.method} {self.address[:120]} [{self.label}]"


def multipart(pairs: Iterable[tuple[str, str]], boundary: str, files: frozenset[str] = frozenset()) -> bytes:
    parts = []
    for name, value in pairs:
        disposition = f'form-data; name="{name}"'
        if name in files:
            disposition += '; filename="campo.txt"\r\nContent-Type: text/plain'
        parts.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n{value}\r\n".encode())
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def send(client: TestClient, call: Call) -> Any:
    """Send `call` without following redirects: the response, or the exception the app raised."""
    headers: dict[str, str | bytes] = {name: value.encode() for name, value in call.headers}
    content: bytes | None = None
    if call.method == "GET":
        address = call.address
    else:
        address = call.address
        if call.encoding == "form":
            content = urlencode(call.pairs).encode()
            headers.setdefault("content-type", "application/x-www-form-urlencoded")
        elif call.encoding == "multipart":
            boundary = "walk" + secrets.token_hex(8)
            content = multipart(call.pairs, boundary, call.files)
            headers.setdefault("content-type", f"multipart/form-data; boundary={boundary}")
        else:
            content = call.body
    try:
        return client.request(call.method, address, content=content, headers=headers, follow_redirects=False)
    except Exception as exc:
        return exc


def where(exc: BaseException) -> str:
    """The exception and the last frame of it in the server's code: `server/x.py:12 in f: line`."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/server/" in f.filename]
    last = frames[-1] if frames else (traceback.extract_tb(exc.__traceback__) or [None])[-1]
    place = ""
    if last is not None:
        short = re.sub(r".*/(server|site-packages)/", r"\1/", last.filename)
        place = f" at {short}:{last.lineno} in {last.name}: {(last.line or '').strip()}"
    said = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {said[:200]}{place}"


# --- variants ------------------------------------------------------------------------------------


def path_variants(route: Route, params: dict[str, Any], base: Call) -> Iterator[Call]:
    """The call with one path parameter at a time replaced by each awkward value."""
    template = route.path
    query = urlsplit(base.address).query
    for name in re.findall(r"\{(\w+)(?::\w+)?\}", template):
        for label, value in corpus(shapes=False, in_address=True):
            if value == "":
                continue  # an empty segment is another address ("//"): the router's, not the route's
            filled = {k: quote(str(v), safe="") for k, v in params.items()}
            filled[name] = quote(value, safe="")
            path = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m, f=filled: str(f[m.group(1)]), template)
            yield replace(base, address=path + (f"?{query}" if query else ""), label=f"path {name}={label}")


def query_variants(base: Call) -> Iterator[tuple[str, str, Call]]:
    """(name, value, call) with one query parameter at a time replaced."""
    parts = urlsplit(base.address)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    for index, (name, _value) in enumerate(pairs):
        for label, value in corpus("any", in_address=True):
            if value == ABSENT:
                changed = pairs[:index] + pairs[index + 1 :]
            elif value == TWICE:
                changed = [*pairs, (name, CORPUS["non-ascii"])]
            elif value == AS_FILE:
                continue
            else:
                changed = [(n, value if i == index else v) for i, (n, v) in enumerate(pairs)]
            address = parts.path + (f"?{urlencode(changed)}" if changed else "")
            yield name, value, replace(base, address=address, label=f"query {name}={label}")


def pattern(name: str) -> str:
    """Fields named after a record (`present-12`, `delegates-12`) are one field for the walk."""
    return re.sub(r"\d+", "N", name)


def field_variants(base: Call, kinds: dict[str, str], skip: set[str]) -> Iterator[tuple[str, str, Call]]:
    """(name, value, call) with one form field at a time replaced, left out, doubled or sent as a file
    (`kinds`: each field's kind, for the values of its kind); a field whose name (`pattern`) is in
    `skip`, or came before in the form, is not walked again."""
    pairs = list(base.pairs)
    for index, (name, _value) in enumerate(pairs):
        if pattern(name) in skip:
            continue
        skip.add(pattern(name))
        for label, value in corpus(kinds.get(name)):
            call_label = f"field {name}={label}"
            if value == ABSENT:
                yield name, value, replace(base, pairs=tuple(pairs[:index] + pairs[index + 1 :]), label=call_label)
            elif value == TWICE:
                doubled = (*pairs[: index + 1], (name, CORPUS["non-ascii"]), *pairs[index + 1 :])
                yield name, value, replace(base, pairs=doubled, label=call_label)
            elif value == AS_FILE:
                yield name, value, replace(base, encoding="multipart", files=frozenset({name}), label=call_label)
            else:
                changed = tuple((n, value if i == index else v) for i, (n, v) in enumerate(pairs))
                yield name, value, replace(base, pairs=changed, label=call_label)


def request_variants(base: Call, token: str) -> Iterator[Call]:
    """The whole request sent another way: multipart (well and badly formed), another content type,
    the token in the header only, bytes that are not UTF-8, two thousand fields."""
    body = urlencode(base.pairs).encode()
    without_token = tuple((n, v) for n, v in base.pairs if n != "csrf_token")
    header = (("x-csrf-token", token),)
    boundary = "walk-boundary"
    whole = multipart(base.pairs, boundary)
    yield replace(base, encoding="multipart", label="multipart")
    yield replace(base, pairs=without_token, headers=header, label="token in the header only")
    for label, content, content_type in (
        ("multipart without its closing boundary", whole[: -len(f"--{boundary}--\r\n")], boundary),
        ("multipart cut in a header", whole[: whole.index(b"\r\n\r\n") - 5], boundary),
        ("multipart with another boundary", whole, "not-the-boundary"),
        ("multipart without a name", whole.replace(b'; name="', b'; nome="'), boundary),
        ("multipart of garbage", secrets.token_bytes(2_000), boundary),
        (
            "multipart non-ASCII part header",
            whole.replace(b"Content-Disposition", "Contènt-Disposition".encode()),
            boundary,
        ),
    ):
        headers = (("content-type", f"multipart/form-data; boundary={content_type}"),)
        yield replace(base, encoding="raw", body=content, headers=headers, label=label)
        yield replace(base, encoding="raw", body=content, headers=headers + header, label=label + ", token in header")
    yield replace(
        base,
        encoding="raw",
        body=body,
        headers=(("content-type", "multipart/form-data"),),
        label="multipart, no boundary",
    )
    for content_type in ("application/json", "text/plain", "application/x-www-form-urlencoded; charset=perché"):
        yield replace(
            base, encoding="raw", body=body, headers=(("content-type", content_type),), label=f"as {content_type}"
        )
        yield replace(
            base,
            encoding="raw",
            body=body,
            headers=(("content-type", content_type), *header),
            label=f"as {content_type}, token in header",
        )
    yield replace(base, encoding="raw", body=body, headers=header, label="no content type, token in header")
    not_utf8 = b"&".join(
        f"{quote(n)}=".encode() + (quote(v).encode() if n in ("csrf_token", "version") else b"%FF%FE%C3")
        for n, v in base.pairs
    )
    yield replace(
        base,
        encoding="raw",
        body=not_utf8,
        headers=(("content-type", "application/x-www-form-urlencoded"),),
        label="bytes that are not UTF-8",
    )
    many = (*base.pairs, *((f"campo{i}", "x") for i in range(2_000)))
    yield replace(base, pairs=many, label="2,000 more fields")
    yield replace(base, encoding="multipart", pairs=many, label="2,000 more fields, multipart")
