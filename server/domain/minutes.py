"""Minutes (verbali): a meeting's minutes from the live draft to the published, frozen versions.

- Drafting: until it starts, the minutes page shows the outline the draft will have (`outline`:
  the meeting's title, the attendance, a heading per agenda item in the agenda's order). The
  secretary or the chair starts drafting (`start_drafting`): the minutes' collaborative document
  is created and seeded ONCE from that outline; from then on the text is only ever changed by
  edits (server/domain/documents.py). Chair and secretary write it live; members and observers
  read it live (`document_access`); members add remarks (server/domain/minutes_remarks.py).
- Lifecycle: draft → sent for approval (`send_for_approval`: the document is frozen, the caller
  closes its sockets) → back to draft (`back_to_draft`: the same document reopens, remarks kept)
  or approved (`approve`: by the chair, or recorded as approved by an agenda item of a later
  meeting of the table; the meeting's decisions and positions are locked) → published.
- Publishing (server/domain/minutes_publishing.py runs the protocol): `build_version` freezes one
  `MinutesVersion` in state *publishing* — the full copy and the public copy (marked passages
  replaced by "[omissis]", server/domain/minutes_redaction.py), each as Markdown, HTML (the one
  Markdown pipeline, stored as rendered, never rendered again) and PDF/A with their SHA-256, the
  archive file's name and front matter —, then `mark_published` once the file is in the archive.
- An erratum (`start_erratum`) is a new document (kind `minutes_erratum`, record = the version it
  corrects) seeded once from that version's full text; the minutes go back to draft on it, and go
  through the same steps; publishing it makes version N+1, superseding N, which stays readable.

Every step is an event (`MinutesEvent`) on the table, live on every open page.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import (
    ActionItem,
    Document,
    DocumentKind,
    Meeting,
    Minutes,
    MinutesStatus,
    MinutesVersion,
    PublicationState,
    Role,
    Table,
)
from server.db.types import utcnow
from server.domain import actions, audit, documents, edit_sessions, minutes_archive, texts, transitions
from server.domain.actions import Actor
from server.domain.agenda import get_item, item_of_table
from server.domain.decisions import lock_decisions
from server.domain.documents import DocumentAccess
from server.domain.errors import Duplicate, Forbidden, Invalid, NotFound
from server.domain.meetings import get_meeting, lock_table
from server.domain.minutes_pdf import printable, render_pdf_async
from server.domain.minutes_record import MinutesRecord, collect
from server.domain.minutes_redaction import (
    PASSAGE_LIMIT,
    PASSAGES_LIMIT,
    clean_passages,
    present_in,
    redact,
    redact_record,
)
from server.i18n import _, format_datetime, use_locale

__all__ = [
    "MOVES",
    "PUBLISHED_LOCALE",
    "WRITERS",
    "MinutesEvent",
    "Sent",
    "approve",
    "back_to_draft",
    "build_version",
    "document_access",
    "document_changed",
    "get_minutes",
    "get_version",
    "latest_version",
    "mark_published",
    "minutes_of_meeting",
    "outline",
    "published_of_table",
    "record_action",
    "send_for_approval",
    "set_redactions",
    "sha256",
    "start_drafting",
    "start_erratum",
    "superseded_by",
    "version_document",
    "versions_of",
]

# Who writes the draft and moves it along (the chair alone approves, redacts and publishes).
WRITERS = (Role.chair, Role.secretary)
# The language of what is published (the PDF's headings, the labels of the records).
PUBLISHED_LOCALE = "it"

MOVES: dict[MinutesStatus, frozenset[MinutesStatus]] = {
    MinutesStatus.draft: frozenset({MinutesStatus.sent}),
    MinutesStatus.sent: frozenset({MinutesStatus.draft, MinutesStatus.approved}),
    MinutesStatus.approved: frozenset({MinutesStatus.published}),
    MinutesStatus.published: frozenset({MinutesStatus.draft}),  # an erratum's draft
}


class MinutesEvent(StrEnum):
    """What the audit record says about minutes (the values are stored)."""

    started = "minutes.started"
    edited = "minutes.edited"  # one per person and editing session, never per keystroke
    sent = "minutes.sent"
    reopened = "minutes.reopened"
    approved = "minutes.approved"
    redacted = "minutes.redacted"
    publishing = "minutes.publishing"
    published = "minutes.published"
    erratum = "minutes.erratum"
    remark = "minutes.remark"


def payload(minutes: Minutes, meeting: Meeting) -> dict[str, object]:
    return {"minutes_id": minutes.id, "meeting_id": meeting.id, "title": meeting.title}


def sha256(data: str | bytes) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def _stale_message() -> str:
    return _("Someone else changed these minutes in the meantime.")


def _refused() -> str:
    return _("The minutes cannot go from this status to that one.")


def _check_writer(actor: Actor) -> None:
    if actor.role not in WRITERS:
        raise Forbidden(_("Only the chair or the secretary can do this with the minutes."))


def _check_chair(actor: Actor, message: str) -> None:
    if actor.role is not Role.chair:
        raise Forbidden(message)


# --- finding ----------------------------------------------------------------------------------


async def minutes_of_meeting(session: AsyncSession, meeting_id: int) -> Minutes | None:
    """The meeting's minutes, or None before drafting has started."""
    return await session.scalar(select(Minutes).where(Minutes.meeting_id == meeting_id))


async def get_minutes(session: AsyncSession, table_id: int, minutes_id: int) -> Minutes:
    """The minutes `minutes_id` of this table, as stored now; another table's are not found."""
    found = await session.scalar(
        select(Minutes)
        .where(Minutes.id == minutes_id, Minutes.table_id == table_id)
        .execution_options(populate_existing=True)
    )
    if found is None:
        raise NotFound(_("These minutes do not exist on this table."))
    return found


async def get_version(session: AsyncSession, table_id: int, version_id: int) -> MinutesVersion:
    """Published or publishing version `version_id` of this table's minutes."""
    found = await session.scalar(
        select(MinutesVersion).where(MinutesVersion.id == version_id, MinutesVersion.table_id == table_id)
    )
    if found is None:
        raise NotFound(_("This version of the minutes does not exist on this table."))
    return found


async def versions_of(session: AsyncSession, minutes_id: int, *, published_only: bool = True) -> list[MinutesVersion]:
    """The minutes' versions, the first first."""
    query = select(MinutesVersion).where(MinutesVersion.minutes_id == minutes_id)
    if published_only:
        query = query.where(MinutesVersion.state == PublicationState.published)
    return list((await session.scalars(query.order_by(MinutesVersion.number))).all())


async def latest_version(session: AsyncSession, minutes_id: int) -> MinutesVersion | None:
    """The minutes' newest published version (the one in force)."""
    return await session.scalar(
        select(MinutesVersion)
        .where(MinutesVersion.minutes_id == minutes_id, MinutesVersion.state == PublicationState.published)
        .order_by(MinutesVersion.number.desc())
        .limit(1)
    )


async def superseded_by(session: AsyncSession, version_id: int) -> MinutesVersion | None:
    """The published version that corrects `version_id` (None: it is still in force)."""
    return await session.scalar(
        select(MinutesVersion).where(
            MinutesVersion.supersedes_id == version_id, MinutesVersion.state == PublicationState.published
        )
    )


async def published_of_table(session: AsyncSession, table_id: int) -> list[MinutesVersion]:
    """Every published version of the table's minutes, newest first (superseded ones too)."""
    found = await session.scalars(
        select(MinutesVersion)
        .where(MinutesVersion.table_id == table_id, MinutesVersion.state == PublicationState.published)
        .order_by(MinutesVersion.published_at.desc(), MinutesVersion.id.desc())
    )
    return list(found.all())


async def version_document(session: AsyncSession, version: MinutesVersion) -> Document | None:
    """The erratum's draft that corrects `version`, if one was started."""
    return await documents.find(session, DocumentKind.minutes_erratum, version.id)


async def _minutes_of_document(session: AsyncSession, document: Document) -> Minutes | None:
    """The minutes a document is the text of: its own draft, or an erratum of one of its versions."""
    if document.kind is DocumentKind.minutes:
        minutes_id: int | None = document.record_id
    elif document.kind is DocumentKind.minutes_erratum:
        minutes_id = await session.scalar(
            select(MinutesVersion.minutes_id).where(MinutesVersion.id == document.record_id)
        )
    else:
        return None
    if minutes_id is None:
        return None
    return await session.scalar(
        select(Minutes)
        .where(Minutes.id == minutes_id, Minutes.table_id == document.table_id)
        .execution_options(populate_existing=True)
    )


# --- the outline and the start of drafting ----------------------------------------------------


def outline(record: MinutesRecord) -> str:
    """The Markdown the draft starts from: the meeting's title, when and where, who attended, and a
    heading per agenda item in the agenda's order (`## 1. Title`)."""
    lines = [f"# {record.meeting_title}", ""]
    where = record.place or record.online_url
    when = format_datetime(record.starts_at)
    lines += [f"{when}, {where}" if where else when, ""]
    lines += [f"**{_('Organisations present')}**", ""]
    if record.present:
        for present in record.present:
            delegates = ", ".join(present.delegates)
            lines.append(f"- {present.organisation}: {delegates}" if delegates else f"- {present.organisation}")
    else:
        lines.append(f"- {_('No organisation recorded as present.')}")
    lines.append("")
    if record.absent:
        lines += [f"**{_('Organisations absent')}**", ""]
        lines += [f"- {name}" for name in record.absent]
        lines.append("")
    for item in record.items:
        lines += [f"## {item.number}. {item.title}", "", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


async def start_drafting(session: AsyncSession, table: Table, meeting_id: int, *, actor: Actor) -> Minutes:
    """Start the meeting's minutes (secretary or chair): the minutes and their document, seeded once
    from the outline. Refused when drafting has already started (Duplicate)."""
    _check_writer(actor)
    await lock_table(session, table.id)
    meeting = await get_meeting(session, table.id, meeting_id)
    if await minutes_of_meeting(session, meeting.id) is not None:
        raise Duplicate(_("The minutes of this meeting are already being written."))
    minutes = Minutes(table_id=table.id, meeting_id=meeting.id, created_by=actor.user_id, redactions=[])
    session.add(minutes)
    await session.flush()
    document = await documents.create(
        session,
        table_id=table.id,
        kind=DocumentKind.minutes,
        record_id=minutes.id,
        text=outline(await collect(session, meeting.id)),
        user_id=actor.user_id,
    )
    minutes.document_id = document.id
    await session.flush()
    await audit.record(
        session,
        MinutesEvent.started,
        actor_id=actor.user_id,
        table_id=table.id,
        document_id=document.id,
        **payload(minutes, meeting),
    )
    return minutes


# --- the document: who reads and writes it, and what its edits record -------------------------


async def document_access(
    session: AsyncSession,
    document: Document,
    *,
    role: Role | None,
    organisation_id: int | None = None,
    is_admin: bool = False,
) -> DocumentAccess:
    """What a person with `role` on the document's table may do with a minutes document (the
    draft or an erratum's): the chair and the secretary write the current draft while the minutes
    are a draft and its text is not frozen; everyone with a role reads it (members and observers,
    live), administrators too; the public has nothing. Nobody writes a frozen text or a document
    that is no longer the minutes' draft."""
    del organisation_id  # the minutes are the table's, not an organisation's
    if document.kind not in (DocumentKind.minutes, DocumentKind.minutes_erratum):
        return DocumentAccess.none
    if role is None and not is_admin:
        return DocumentAccess.none
    minutes = await _minutes_of_document(session, document)
    if minutes is None:
        return DocumentAccess.none
    writable = (
        document.frozen_at is None and minutes.document_id == document.id and minutes.status is MinutesStatus.draft
    )
    if writable and role in WRITERS:
        return DocumentAccess.edit
    return DocumentAccess.read


async def document_changed(
    session: AsyncSession, document: Document, text: str, editor_ids: frozenset[int], *, now: datetime | None = None
) -> None:
    """What the live room calls after storing edits of a minutes document: record who edited it,
    one `minutes.edited` event per person and editing session (a session ends after `edit_sessions.QUIET`
    without an edit by that person). The text itself is rendered only when published."""
    del text  # the draft is shown by the editor; its HTML is made once, when a version is published
    now = now or utcnow()
    await lock_table(session, document.table_id)
    minutes = await _minutes_of_document(session, document)
    fresh = await session.get(Document, document.id, populate_existing=True)
    if minutes is None or fresh is None or minutes.document_id != document.id:
        return
    meeting = await session.get(Meeting, minutes.meeting_id)
    if meeting is None:
        return
    for editor in sorted(editor_ids):
        await _edited(session, minutes, meeting, editor, now)


async def _edited(session: AsyncSession, minutes: Minutes, meeting: Meeting, editor_id: int, now: datetime) -> None:
    await edit_sessions.record_edit(
        session,
        MinutesEvent.edited,
        table_id=minutes.table_id,
        record=("minutes_id", minutes.id),
        editor_id=editor_id,
        now=now,
        payload=payload(minutes, meeting),
    )


# --- the lifecycle ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """Minutes moved by `send_for_approval` or `back_to_draft`, and the document whose sockets the
    caller closes once committed (frozen: 4409; reopened: 1012, so that they reconnect as writers)."""

    minutes: Minutes
    document_id: int | None


async def _move(
    session: AsyncSession,
    table: Table,
    minutes_id: int,
    status: MinutesStatus,
    *,
    version: int,
    actor: Actor,
    event: MinutesEvent,
    check: Callable[[Minutes], Awaitable[None]],
    **extra: object,
) -> Minutes:
    """Move the minutes along the transition table: the same status again is a no-op, a stale
    version 409, an illegal move 422; `check(minutes)` does what goes with the move, before it."""
    await lock_table(session, table.id)
    minutes = await get_minutes(session, table.id, minutes_id)
    meeting = await get_meeting(session, table.id, minutes.meeting_id)

    async def prepare(_before: MinutesStatus) -> None:
        await check(minutes)

    await transitions.change_status(
        session,
        minutes,
        status,
        version=version,
        stale_message=_stale_message(),
        moves=MOVES,
        refused=_refused(),
        event=event,
        actor_id=actor.user_id,
        table_id=table.id,
        payload={**payload(minutes, meeting), **extra},
        prepare=prepare,
    )
    return minutes


async def send_for_approval(
    session: AsyncSession, table: Table, minutes_id: int, *, version: int, actor: Actor
) -> Sent:
    """Send the draft for approval (chair or secretary): its document is frozen (a write to it is
    refused from now on); the caller closes its sockets (`Rooms.close_document(id, FROZEN)`)."""
    _check_writer(actor)

    async def check(minutes: Minutes) -> None:
        if minutes.document_id is None:
            raise Invalid({"status": _("These minutes have no text to send.")})
        await documents.freeze(session, minutes.document_id)
        minutes.sent_at = utcnow()

    minutes = await _move(
        session,
        table,
        minutes_id,
        MinutesStatus.sent,
        version=version,
        actor=actor,
        event=MinutesEvent.sent,
        check=check,
    )
    return Sent(minutes, minutes.document_id)


async def back_to_draft(session: AsyncSession, table: Table, minutes_id: int, *, version: int, actor: Actor) -> Sent:
    """Take minutes sent for approval back to draft (chair or secretary): the same document reopens
    for writing, its remarks stay. The caller closes its sockets with 1012 so that they reconnect
    (and the room reloads it writable)."""
    _check_writer(actor)

    async def check(minutes: Minutes) -> None:
        if minutes.document_id is not None:
            await _reopen(session, minutes.document_id)
        minutes.sent_at = None

    minutes = await _move(
        session,
        table,
        minutes_id,
        MinutesStatus.draft,
        version=version,
        actor=actor,
        event=MinutesEvent.reopened,
        check=check,
    )
    return Sent(minutes, minutes.document_id)


async def _reopen(session: AsyncSession, document_id: int) -> None:
    """Unfreeze a document: it takes edits again (the row lock orders this with the appends)."""
    document = await session.scalar(
        select(Document).where(Document.id == document_id).with_for_update().execution_options(populate_existing=True)
    )
    if document is None:
        raise NotFound(_("This document does not exist."))
    document.frozen_at = None
    await session.flush()


async def approve(
    session: AsyncSession,
    table: Table,
    minutes_id: int,
    *,
    version: int,
    actor: Actor,
    at_item_id: int | None = None,
) -> Minutes:
    """Approve minutes sent for approval: by the chair; or recorded as approved by agenda item
    `at_item_id` of a later meeting of the same table (the chair or the secretary records it).
    The meeting's decisions and positions are locked (decisions.lock_decisions)."""
    if at_item_id is None:
        _check_chair(actor, _("Only the chair can approve the minutes."))
    else:
        _check_writer(actor)
    extra: dict[str, object] = {}
    if at_item_id is not None:
        await lock_table(session, table.id)
        minutes = await get_minutes(session, table.id, minutes_id)
        item = await item_of_table(session, table, at_item_id)
        meeting = await get_meeting(session, table.id, minutes.meeting_id)
        later = await get_meeting(session, table.id, item.meeting_id)
        if later.starts_at <= meeting.starts_at or later.id == meeting.id:
            raise Invalid({"item": _("Minutes are approved at an agenda item of a later meeting.")})
        extra = {"item_id": item.id, "at_meeting_id": later.id, "at_title": later.title}

    async def check(minutes: Minutes) -> None:
        minutes.approved_at = utcnow()
        minutes.approved_by = actor.user_id
        minutes.approved_at_item_id = at_item_id
        await lock_decisions(session, minutes.meeting_id, actor_id=actor.user_id)

    return await _move(
        session,
        table,
        minutes_id,
        MinutesStatus.approved,
        version=version,
        actor=actor,
        event=MinutesEvent.approved,
        check=check,
        **extra,
    )


async def set_redactions(
    session: AsyncSession, table: Table, minutes_id: int, passages: list[str], *, actor: Actor
) -> Minutes:
    """Mark the passages that the public copy replaces with "[omissis]" (the chair, before
    publishing). Each passage must appear as typed in the current text or in what the records add
    to it (a delegate's name, a decision's text); the list replaces the one marked before. The
    same list again is a no-op; a change is a `minutes.redacted` event."""
    _check_chair(actor, _("Only the chair can choose what the public copy leaves out."))
    await lock_table(session, table.id)
    minutes = await get_minutes(session, table.id, minutes_id)
    if minutes.status is MinutesStatus.published:
        raise Invalid({"redactions": _("These minutes are published: correct them with an erratum.")})
    wanted = clean_passages(passages)
    if len(wanted) > PASSAGES_LIMIT:
        raise Invalid({"redactions": _("At most {n} passages can be left out.").format(n=PASSAGES_LIMIT)})
    for passage in wanted:
        if len(passage) > PASSAGE_LIMIT:
            raise Invalid({"redactions": _("A passage can be at most {n} characters long.").format(n=PASSAGE_LIMIT)})
    text = await documents.text_of(session, minutes.document_id) if minutes.document_id else ""
    found = present_in(wanted, text, await collect(session, minutes.meeting_id))
    absent = [passage for passage in wanted if passage not in found]
    if absent:
        raise Invalid(
            {"redactions": _("This passage is not in the text of the minutes: «{passage}».").format(passage=absent[0])}
        )
    before = list(minutes.redactions or [])
    if before == wanted:
        return minutes
    minutes.redactions = wanted
    await session.flush()
    meeting = await get_meeting(session, table.id, minutes.meeting_id)
    await audit.record(
        session,
        MinutesEvent.redacted,
        actor_id=actor.user_id,
        table_id=table.id,
        count=len(wanted),
        before=len(before),
        **payload(minutes, meeting),
    )
    return minutes


# --- publishing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """What a version's copies are made of (in the published locale)."""

    number: int
    supersedes_file: str | None
    text: str
    marked: tuple[str, ...]  # the passages the chair marked
    record: MinutesRecord


@dataclass(frozen=True)
class Rendered:
    """A version's copies, rendered from `inputs`."""

    inputs: Inputs
    values: dict[str, object]


async def _check_publishable(session: AsyncSession, minutes_id: int, actor: Actor) -> Minutes:
    _check_chair(actor, _("Only the chair can publish the minutes."))
    row = await session.scalar(
        select(Minutes).where(Minutes.id == minutes_id).execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound(_("These minutes do not exist on this table."))
    if row.status is not MinutesStatus.approved:
        raise Invalid({"status": _("Only approved minutes can be published.")})
    if row.document_id is None:
        raise Invalid({"status": _("These minutes have no text to publish.")})
    return row


async def _inputs(session: AsyncSession, row: Minutes, text: str) -> Inputs:
    previous = await latest_version(session, row.id)
    with use_locale(PUBLISHED_LOCALE):
        record = await collect(session, row.meeting_id)
    return Inputs(
        number=previous.number + 1 if previous else 1,
        supersedes_file=previous.file_name if previous else None,
        text=text,
        marked=tuple(row.redactions or ()),
        record=record,
    )


async def _render(session: AsyncSession, inputs: Inputs) -> Rendered:
    """Render both copies (Markdown, HTML, PDF/A) and their hashes: seconds of work for the PDFs."""
    number, supersedes_file, text, record = inputs.number, inputs.supersedes_file, inputs.text, inputs.record
    renderer = texts.renderer_of(session)
    with use_locale(PUBLISHED_LOCALE):
        passages = present_in(list(inputs.marked), text, record)
        public_text = redact(text, passages)
        public_record = await redact_record(record, passages, renderer.render)
        full_html = await renderer.render(text)
        public_html = full_html if public_text == text else await renderer.render(public_text)
        front = minutes_archive.front_matter(
            public_record,
            number=number,
            supersedes_file=supersedes_file,
            body_sha256=minutes_archive.body_sha256(public_text),
        )
        file = minutes_archive.compose_file(front, public_text)
        full_pdf, public_pdf = await asyncio.gather(
            *(
                render_pdf_async(
                    printable(
                        shown, html, copy=copy, version=number, supersedes=supersedes_file, locale=PUBLISHED_LOCALE
                    )
                )
                for shown, html, copy in ((record, full_html, "full"), (public_record, public_html, "public"))
            )
        )
    return Rendered(
        inputs,
        {
            "number": number,
            "full_markdown": text,
            "full_html": full_html,
            "full_pdf": full_pdf,
            "full_sha256": {"markdown": sha256(text), "html": sha256(full_html), "pdf": sha256(full_pdf)},
            "public_markdown": file.decode("utf-8"),
            "public_html": public_html,
            "public_pdf": public_pdf,
            "public_sha256": {"markdown": sha256(file), "html": sha256(public_html), "pdf": sha256(public_pdf)},
            "redactions": passages,
            "file_name": minutes_archive.file_name(public_record, number),
            "front_matter": front,
        },
    )


async def prepare_version(session: AsyncSession, minutes_id: int, actor: Actor) -> Rendered:
    """Render the next version of approved minutes WITHOUT locking anything (a read session will do),
    so that `build_version` only has to check that nothing changed meanwhile and store it: the PDFs
    take seconds, and a table lock held that long would stall every write (on SQLite, every table's)."""
    row = await _check_publishable(session, minutes_id, actor)
    assert row.document_id is not None
    return await _render(session, await _inputs(session, row, await documents.text_of(session, row.document_id)))


async def build_version(
    session: AsyncSession, minutes: Minutes | int, actor: Actor, *, prepared: Rendered | None = None
) -> MinutesVersion:
    """Freeze the approved minutes as their next version, in state *publishing*, for the publishing
    protocol (server/domain/minutes_publishing.py), the chair only.

    The text is the document's stored one (frozen, if it was not yet). The full copy is that text;
    the public copy is it with the marked passages (those still in the text or the records) replaced by
    "[omissis]", in the text and in the records. Each copy gets its HTML (the one Markdown pipeline)
    and its PDF/A, and their SHA-256; the public Markdown is the archive file (front matter + text).
    An erratum's version supersedes the version in force. `prepared` (from `prepare_version`) is
    used when it was rendered from what the minutes are now; otherwise they are rendered here.
    """
    row = await _check_publishable(session, minutes if isinstance(minutes, int) else minutes.id, actor)
    await lock_table(session, row.table_id)
    pending = await session.scalar(
        select(func.count())
        .select_from(MinutesVersion)
        .where(MinutesVersion.minutes_id == row.id, MinutesVersion.state == PublicationState.publishing)
    )
    if pending:
        raise Invalid({"status": _("These minutes are already being published.")})
    meeting = await get_meeting(session, row.table_id, row.meeting_id)
    assert row.document_id is not None
    inputs = await _inputs(session, row, await documents.freeze(session, row.document_id))
    rendered = prepared if prepared is not None and prepared.inputs == inputs else await _render(session, inputs)
    previous = await latest_version(session, row.id)
    made = MinutesVersion(
        minutes_id=row.id,
        table_id=row.table_id,
        state=PublicationState.publishing,
        supersedes_id=previous.id if previous else None,
        document_id=row.document_id,
        published_by=actor.user_id,
        **rendered.values,
    )
    session.add(made)
    await session.flush()
    await audit.record(
        session,
        MinutesEvent.publishing,
        actor_id=actor.user_id,
        table_id=row.table_id,
        version_id=made.id,
        number=made.number,
        **payload(row, meeting),
    )
    return made


async def mark_published(
    session: AsyncSession, version_id: int, *, actor_id: int | None, chain_hash: str | None = None
) -> MinutesVersion:
    """The version's file is in the archive: mark it published (and the minutes with it), with the
    hash of its CHAIN line when given. Marking a published version again is a no-op (a repair that
    finds it done). No role check: the publishing protocol calls it after `build_version`'s."""
    version = await session.scalar(
        select(MinutesVersion).where(MinutesVersion.id == version_id).execution_options(populate_existing=True)
    )
    if version is None:
        raise NotFound(_("This version of the minutes does not exist on this table."))
    await lock_table(session, version.table_id)
    if version.state is PublicationState.published:
        return version
    minutes = await session.get(Minutes, version.minutes_id, populate_existing=True)
    assert minutes is not None  # a version is deleted with its minutes
    meeting = await get_meeting(session, minutes.table_id, minutes.meeting_id)
    version.state = PublicationState.published
    version.published_at = utcnow()
    if chain_hash is not None:
        version.chain_hash = chain_hash
    if minutes.status is not MinutesStatus.published:
        minutes.status = MinutesStatus.published
    await session.flush()
    await audit.record(
        session,
        MinutesEvent.published,
        actor_id=actor_id if actor_id is not None else version.published_by,
        table_id=version.table_id,
        version_id=version.id,
        number=version.number,
        supersedes_id=version.supersedes_id,
        file_name=version.file_name,
        **payload(minutes, meeting),
    )
    return version


async def start_erratum(session: AsyncSession, table: Table, version_id: int, *, actor: Actor) -> Document:
    """Start correcting the version in force (chair or secretary): a new document (kind
    `minutes_erratum`, record = that version) seeded once from its full text; the minutes go back
    to draft on it (and will be sent, approved and published again, as version N+1)."""
    _check_writer(actor)
    await lock_table(session, table.id)
    version = await get_version(session, table.id, version_id)
    if version.state is not PublicationState.published:
        raise Invalid({"status": _("Only a published version can be corrected.")})
    if await superseded_by(session, version.id) is not None:
        raise Invalid({"status": _("This version has already been corrected: correct the newer one.")})
    if await version_document(session, version) is not None:
        raise Duplicate(_("An erratum of this version is already being written."))
    minutes = await get_minutes(session, table.id, version.minutes_id)
    meeting = await get_meeting(session, table.id, minutes.meeting_id)
    document = await documents.create(
        session,
        table_id=table.id,
        kind=DocumentKind.minutes_erratum,
        record_id=version.id,
        text=version.full_markdown,
        user_id=actor.user_id,
    )

    async def check(_before: MinutesStatus) -> None:
        minutes.document_id = document.id
        minutes.sent_at = minutes.approved_at = None
        minutes.approved_by = minutes.approved_at_item_id = None

    await transitions.change_status(
        session,
        minutes,
        MinutesStatus.draft,
        version=minutes.version,
        stale_message=_stale_message(),
        moves=MOVES,
        refused=_refused(),
        event=MinutesEvent.erratum,
        actor_id=actor.user_id,
        table_id=table.id,
        payload={**payload(minutes, meeting), "version_id": version.id, "document_id": document.id},
        prepare=check,
    )
    return document


# --- action items from the minutes ------------------------------------------------------------


async def record_action(
    session: AsyncSession,
    table: Table,
    meeting_id: int,
    item_id: int,
    values: actions.ActionValues,
    *,
    actor: Actor,
    client_key: str | None = None,
) -> ActionItem:
    """Record an action item from the minutes for agenda item `item_id` of this meeting (its origin),
    by the secretary or the chair; refused once the minutes are approved (their records are final)."""
    _check_writer(actor)
    await lock_table(session, table.id)
    meeting = await get_meeting(session, table.id, meeting_id)
    item = await get_item(session, meeting, item_id)
    minutes = await minutes_of_meeting(session, meeting.id)
    if minutes is not None and minutes.status in (MinutesStatus.approved, MinutesStatus.published):
        raise Invalid({"minutes": _("These minutes are approved: their action items no longer change here.")})
    return await actions.create_action(
        session, table, values, actor_id=actor.user_id, origin_item_id=item.id, client_key=client_key
    )
