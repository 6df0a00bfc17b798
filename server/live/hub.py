"""The hub: after a change commits, every open page of its table shows it (docs/architecture.md).

The path of one change: the endpoint's transaction commits; the database hands its events to
`Hub.committed`, which publishes a small `Changed` note on the broker; every instance's hub
receives it, reads the affected fragments' data from the database once, renders each fragment
once per group of connections that see the same thing (page, role view, locale), and appends
the frame to each connection's bounded queue. Notes of one table are handled one at a time, and
those that arrive while one is being handled are merged: fragments are rendered from the current
state, so a late or repeated note can only repeat the latest state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import jinja2
from sqlalchemy import select

from server.db.models import Event, Table, User, UserSession
from server.db.session import Database
from server.db.types import utcnow
from server.domain.presence import presence_people
from server.live import wire
from server.live.brokers import Broker
from server.live.connection import NO_ACCESS, RECONNECT, SESSION_ENDED, Connection, Frame
from server.live.documents import DocumentSocket, Rooms
from server.live.presence import HEARTBEAT, Presence
from server.live.rendering import Renderings, events_of, load_regions, private_if_needed
from server.views.areas import CATALOG
from server.views.audience import Screen
from server.views.regions import Region

log = logging.getLogger(__name__)

SESSION_SWEEP_SECONDS = 30.0
WORKER_GRACE_SECONDS = 2.0


def page_fragments(page: Screen) -> tuple[Region, ...]:
    return CATALOG.regions_of(page)


@dataclass
class _Pending:
    """What is still to push for one table."""

    fragments: set[tuple[Region, int | None]] = field(default_factory=set)  # record None: every page
    notes: list[wire.Changed] = field(default_factory=list)
    presence: bool = False


class Hub:
    def __init__(
        self,
        database: Database,
        env: jinja2.Environment,
        broker: Broker,
        *,
        message_limit: int,
        instance: str | None = None,
    ) -> None:
        self.database = database
        self.env = env
        self.broker = broker
        self.message_limit = message_limit
        self.instance = instance or uuid.uuid4().hex[:12]
        self.presence = Presence(self.instance)
        self.connections: dict[int, set[Connection]] = {}
        self._per_session: Counter[str] = Counter()  # open connections by session id, for the cap
        self.renders: Counter[str] = Counter()  # fragment id -> renders, so tests can count them
        self._pending: dict[int, _Pending] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._timers: dict[Connection, asyncio.TimerHandle] = {}
        self._tasks: list[asyncio.Task[None]] = []
        # The collaborative documents' rooms (server/live/documents.py), when the app has them:
        # their notes come through this hub's broker, and their sockets close with the table's.
        self.documents: Rooms | None = None

    # --- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self.broker.start(self._received, self._resync)
        self.database.on_commit(self.committed)
        self._tasks = [
            asyncio.create_task(self._beat(), name="presence-heartbeat"),
            asyncio.create_task(self._sweep_sessions(), name="session-sweep"),
        ]

    async def stop(self) -> None:
        with contextlib.suppress(Exception):  # the broker may be gone already
            await self.broker.publish(wire.encode(wire.Present(self.instance, {}, full=True)))
        for task in self._tasks:
            task.cancel()
        # A push being rendered is reading the database: let it end rather than cancel it midway.
        if self._workers:
            await asyncio.wait(list(self._workers.values()), timeout=WORKER_GRACE_SECONDS)
        for task in self._workers.values():
            task.cancel()
        for connection in self.all_connections():
            connection.close(RECONNECT)  # clients come back to another instance, or to this one restarted
        await self.broker.close()

    def all_connections(self) -> list[Connection]:
        return [c for group in self.connections.values() for c in group]

    def sockets_of(self, session_id: str) -> int:
        """How many table sockets a login session has open on this instance (each costs queries
        and renders: server/web/live.py caps them, TAVOLI_MAX_SOCKETS_PER_SESSION)."""
        return self._per_session[session_id]

    # --- changes ------------------------------------------------------------------------------

    async def committed(self, events: list[Event]) -> None:
        """Called after a write transaction commits: announce its table events to every instance."""
        for event in events:
            if event.table_id is None or event.seq is None:
                continue
            payload = event.payload
            user = payload.get("user_id") if event.kind in CATALOG.membership else None
            records = _records(payload)
            note = wire.Changed(event.table_id, event.seq, event.kind, records, user, event.actor_id)
            try:
                await self.broker.publish(wire.encode(note))
            except Exception:  # the change is committed; pages catch up at the next one or on reconnect
                log.exception("could not publish a live change of table %s", event.table_id)

    async def revoke(self, session_id: str) -> None:
        """A session ended (logout): close its sockets on every instance."""
        await self.broker.publish(wire.encode(wire.Revoke(session_id)))

    async def _received(self, message: bytes) -> None:
        note = wire.decode(message)
        if isinstance(note, wire.Changed):
            self._membership_changed(note)
            wanted = [(region, note.records.get(region.record or "")) for region in CATALOG.affected(note.kind)]
            self._schedule(note.table_id, wanted, note)
        elif isinstance(note, wire.Present):
            for table_id in self.presence.apply(note.instance, note.tables, full=note.full):
                self._schedule(table_id, [], presence=True)
        elif isinstance(note, wire.Revoke):
            for connection in self.all_connections():
                if connection.session_id == note.session:
                    connection.close(note.code)
            for socket in self.documents.sockets() if self.documents else ():
                if socket.session_id == note.session:
                    socket.close(note.code)
        elif self.documents is not None:
            await self.documents.received(note)

    def _membership_changed(self, note: wire.Changed) -> None:
        """A person who lost their role leaves; one whose role changed reconnects to see the new view."""
        if note.user_id is None:
            return
        code = NO_ACCESS if CATALOG.membership.get(note.kind) else RECONNECT
        for connection in list(self.connections.get(note.table_id, ())):
            if connection.user_id == note.user_id:
                connection.close(code)
        for socket in self.documents.sockets() if self.documents else ():
            if socket.table_id == note.table_id and socket.user_id == note.user_id:
                socket.close(code)  # a document socket asks for its access again on reconnecting

    async def _resync(self) -> None:
        """After a broker outage: send every page its current state, whatever was missed."""
        for table_id, connections in list(self.connections.items()):
            pages = {c.page for c in connections}
            wanted = [(fragment, None) for page in pages for fragment in page_fragments(page)]
            self._schedule(table_id, wanted, presence=True)
        if self.documents is not None:
            await self.documents.resync()

    def _schedule(
        self,
        table_id: int,
        wanted: Iterable[tuple[Region, int | None]],
        note: wire.Changed | None = None,
        *,
        presence: bool = False,
    ) -> None:
        if not self.connections.get(table_id):
            return
        pending = self._pending.setdefault(table_id, _Pending())
        pending.fragments.update(wanted)
        pending.presence |= presence
        if note is not None:
            pending.notes.append(note)
        if table_id not in self._workers:
            self._workers[table_id] = asyncio.create_task(self._work(table_id), name=f"hub-table-{table_id}")

    async def _work(self, table_id: int) -> None:
        try:
            while table_id in self._pending:
                pending = self._pending.pop(table_id)
                try:
                    await self._push(table_id, pending)
                except Exception:  # a failed push must not stop the next ones
                    log.exception("live push to table %s failed", table_id)
        finally:
            self._workers.pop(table_id, None)

    # --- rendering ----------------------------------------------------------------------------

    async def _push(self, table_id: int, pending: _Pending) -> None:
        connections = [c for c in self.connections.get(table_id, ()) if c.close_code is None]
        if not connections:
            return
        needs = {c.page: self._needed(c.page, pending) for c in connections}
        wanted = {(fr, fr.scope(page)) for page, frs in needs.items() for fr in frs}
        async with self.database.read() as session:
            table = await session.get(Table, table_id)
            if table is None:
                return
            data = await load_regions(session, table, wanted)
            private = await private_if_needed(session, table_id, [fr for fr, _scope in wanted], bool(pending.notes))
            people = await presence_people(session, table, self.presence.users(table_id)) if pending.presence else None
            events = await events_of(session, table_id, [n.seq for n in pending.notes])
        actors = {n.actor_id for n in pending.notes}
        renderings = Renderings(self.env, self.renders, data, private)
        frames: dict[tuple[Any, ...], Frame] = {}
        for connection in connections:
            page, audience, locale = connection.group
            quiet = connection.user_id in actors  # one's own change needs no announcement
            key = (page, audience, locale, quiet)
            if key not in frames:
                parts = [renderings.region(fragment, page, audience, locale) for fragment in needs[page]]
                if people is not None and CATALOG.shows_presence(page):
                    parts.append(renderings.presence(people, locale))
                if events and not quiet:
                    parts.append(renderings.announcement(events, audience, locale))
                frames[key] = Frame("".join(parts))
            if frames[key].text:
                connection.push(frames[key])

    def _needed(self, page: Screen, pending: _Pending) -> list[Region]:
        shown = page_fragments(page)
        found = {
            fragment
            for fragment, record_id in pending.fragments
            if fragment in shown and (record_id is None or record_id == page.record_id)
        }
        return sorted(found, key=shown.index)

    # --- connections --------------------------------------------------------------------------

    async def open(self, connection: Connection) -> None:
        """Register a connection and queue the current state of its page before anything else.

        If that fails (the database), the connection is forgotten again and the error raised.
        """
        self.connections.setdefault(connection.table_id, set()).add(connection)
        self._per_session[connection.session_id] += 1
        try:
            await self._first_state(connection)
        except BaseException:
            await self._forget(connection)
            raise

    async def _first_state(self, connection: Connection) -> None:
        delay = (connection.expires_at - utcnow()).total_seconds()
        self._timers[connection] = asyncio.get_running_loop().call_later(max(delay, 0), connection.close, SESSION_ENDED)
        if self.presence.join(connection.table_id, connection.user_id):
            await self._tell_presence(connection.table_id)
        async with self.database.read() as session:
            table = await session.get_one(Table, connection.table_id)
            page = connection.page
            shown = page_fragments(page)
            data = await load_regions(session, table, {(fragment, fragment.scope(page)) for fragment in shown})
            private = await private_if_needed(session, table.id, shown, False)
            shows_presence = CATALOG.shows_presence(page)
            people = await presence_people(session, table, self.presence.users(table.id)) if shows_presence else []
        renderings = Renderings(self.env, self.renders, data, private)
        parts = [renderings.region(fragment, page, connection.audience, connection.locale) for fragment in shown]
        if shows_presence:
            parts.append(renderings.presence(people, connection.locale))
        connection.push("".join(parts), first=True)

    async def serve(self, connection: Connection) -> None:
        try:
            await connection.serve(self.message_limit)
        finally:
            await self._forget(connection)

    async def _forget(self, connection: Connection) -> None:
        group = self.connections.get(connection.table_id)
        if group is not None and connection in group:
            group.discard(connection)
            if not group:
                del self.connections[connection.table_id]
            self._per_session[connection.session_id] -= 1
            if self._per_session[connection.session_id] <= 0:
                del self._per_session[connection.session_id]
        timer = self._timers.pop(connection, None)
        if timer is not None:
            timer.cancel()
        if self.presence.leave(connection.table_id, connection.user_id):
            await self._tell_presence(connection.table_id)

    async def _tell_presence(self, table_id: int) -> None:
        self._schedule(table_id, [], presence=True)
        try:
            await self.broker.publish(
                wire.encode(wire.Present(self.instance, {table_id: self.presence.local(table_id)}))
            )
        except Exception:
            log.exception("could not publish presence")

    async def _beat(self) -> None:
        """Tell the other instances who is here, and forget the instances that went silent."""
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                note = wire.Present(self.instance, self.presence.local_tables(), full=True)
                await self.broker.publish(wire.encode(note))
            except Exception:
                log.exception("could not publish the presence heartbeat")
            for table_id in self.presence.expire():
                self._schedule(table_id, [], presence=True)

    async def _sweep_sessions(self) -> None:
        """Close sockets whose session is gone however it went (expired, deleted, account disabled)."""
        while True:
            await asyncio.sleep(SESSION_SWEEP_SECONDS)
            # A room screen opened with a room link (user 0) has no login session: its link's
            # expiry and revocation close it (server/web/room.py).
            connections: list[Connection | DocumentSocket] = [
                *(c for c in self.all_connections() if c.user_id),
                *(self.documents.sockets() if self.documents else ()),
            ]
            if not connections:
                continue
            try:
                async with self.database.read() as session:
                    alive = set(
                        (
                            await session.scalars(
                                select(UserSession.id)
                                .join(User, User.id == UserSession.user_id)
                                .where(
                                    UserSession.id.in_({c.session_id for c in connections}),
                                    UserSession.expires_at > utcnow(),
                                    User.is_active,
                                )
                            )
                        ).all()
                    )
            except Exception:
                log.exception("could not check the sessions of open sockets")
                continue
            for connection in connections:
                if connection.session_id not in alive:
                    connection.close(SESSION_ENDED)


def _records(payload: dict[str, Any]) -> dict[str, int]:
    """The records an event is about, from its payload's `<record>_id` keys ({"meeting": 3})."""
    return {key[:-3]: value for key, value in payload.items() if key.endswith("_id") and isinstance(value, int)}
