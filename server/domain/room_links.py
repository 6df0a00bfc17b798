"""Room links: the chair lets a projector or a shared screen show a meeting's room screen.

The secret is made here and shown once to the chair. It travels in the link's fragment
(`…/sala#t=<secret>`), which no browser sends to a server: the room screen's own script exchanges
it once for a cookie scoped to that one screen's path (server/web/room.py). The cookie is not the
secret but a keyed hash of it (`pass_of`), so that the secret appears in no request after the
exchange (nor in a server's debug log of headers); only the SHA-256 of that cookie is kept. A
link reads that meeting's room screen only, until the end of the day it was made (Europe/Rome),
or until the chair revokes it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Meeting, RoomLink, Table
from server.db.types import utcnow
from server.domain import audit
from server.domain.errors import NotFound
from server.domain.meetings import MeetingEvent, get_meeting, lock_table
from server.i18n import TIMEZONE, _

SECRET_BYTES = 32
SECRET_LIMIT = 100  # a longer secret is no secret of ours: nothing is looked up


def pass_of(secret: str, key: str) -> str:
    """The cookie a secret is exchanged for (keyed with the site's secret key)."""
    return hmac.new(key.encode(), b"room-link:" + secret.encode(), hashlib.sha256).hexdigest()


def stored_hash(room_pass: str) -> str:
    return hashlib.sha256(room_pass.encode()).hexdigest()


def end_of_day(now: datetime) -> datetime:
    """Midnight at the end of `now`'s day in Italy."""
    day = now.astimezone(TIMEZONE).date() + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=TIMEZONE)


@dataclass(frozen=True)
class NewLink:
    """A link just made: its record, and its secret, which is shown this once and never stored."""

    link: RoomLink
    secret: str


async def create_link(
    session: AsyncSession, table: Table, meeting_id: int, *, key: str, actor_id: int | None
) -> NewLink:
    await lock_table(session, table.id)
    meeting = await get_meeting(session, table.id, meeting_id)
    now = utcnow()
    secret = secrets.token_urlsafe(SECRET_BYTES)
    link = RoomLink(
        meeting_id=meeting.id,
        secret_hash=stored_hash(pass_of(secret, key)),
        created_by=actor_id,
        created_at=now,
        # Until the end of the meeting's day: a link made the evening before (or before midnight)
        # still opens the screen on the day itself.
        expires_at=end_of_day(max(now, meeting.starts_at)),
    )
    session.add(link)
    await session.flush()
    await audit.record(
        session,
        MeetingEvent.room_link_created,
        actor_id=actor_id,
        table_id=table.id,
        meeting_id=meeting.id,
        link_id=link.id,
        title=meeting.title,
    )
    return NewLink(link, secret)


async def revoke_link(
    session: AsyncSession, table: Table, meeting_id: int, link_id: int, *, actor_id: int | None
) -> RoomLink:
    """Revoke a link (a repeat changes nothing); the caller closes its screens' sockets."""
    await lock_table(session, table.id)
    meeting = await get_meeting(session, table.id, meeting_id)
    link = await session.scalar(select(RoomLink).where(RoomLink.id == link_id, RoomLink.meeting_id == meeting.id))
    if link is None:
        raise NotFound(_("This room link does not exist for this meeting."))
    if link.revoked_at is not None:
        return link
    link.revoked_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        MeetingEvent.room_link_revoked,
        actor_id=actor_id,
        table_id=table.id,
        meeting_id=meeting.id,
        link_id=link.id,
        title=meeting.title,
    )
    return link


async def live_links(session: AsyncSession, meeting_id: int, *, now: datetime | None = None) -> list[RoomLink]:
    """The meeting's links still valid (neither revoked nor expired), oldest first."""
    now = now or utcnow()
    return list(
        (
            await session.scalars(
                select(RoomLink)
                .where(RoomLink.meeting_id == meeting_id, RoomLink.revoked_at.is_(None), RoomLink.expires_at > now)
                .order_by(RoomLink.created_at, RoomLink.id)
            )
        ).all()
    )


@dataclass(frozen=True)
class RoomPass:
    """What a valid secret lets in: one meeting's room screen, until `expires_at`."""

    link_id: int
    table_id: int
    meeting_id: int
    expires_at: datetime


async def admit(
    session: AsyncSession, cookie: str, *, slug: str, meeting_id: int, now: datetime | None = None
) -> RoomPass | None:
    """What a room cookie (`pass_of` a secret) opens: the room screen of meeting `meeting_id` of
    table `slug`, or nothing (unknown, revoked, expired, or another meeting's)."""
    if not cookie or len(cookie) > SECRET_LIMIT:
        return None
    now = now or utcnow()
    found = (
        await session.execute(
            select(RoomLink, Meeting.table_id)
            .join(Meeting, Meeting.id == RoomLink.meeting_id)
            .join(Table, Table.id == Meeting.table_id)
            .where(
                RoomLink.secret_hash == stored_hash(cookie),
                RoomLink.meeting_id == meeting_id,
                Table.slug == slug,
                RoomLink.revoked_at.is_(None),
                RoomLink.expires_at > now,
            )
        )
    ).first()
    if found is None:
        return None
    link, table_id = found
    return RoomPass(link.id, table_id, link.meeting_id, link.expires_at)


async def used(session: AsyncSession, room_pass: RoomPass) -> None:
    """Note when a link was last exchanged for a screen's cookie (the chair's list shows it)."""
    await session.execute(update(RoomLink).where(RoomLink.id == room_pass.link_id).values(last_used_at=utcnow()))


def room_session(link_id: int) -> str:
    """The name under which the hub knows a link's sockets (a revocation closes them all)."""
    return f"room:{link_id}"
