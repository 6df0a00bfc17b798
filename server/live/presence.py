"""Who is on each table now, across instances.

Each instance counts its own connections per table and tells the others through the broker:
on every change for that table, and in a periodic heartbeat with everything. An instance that
stops beating (a crash) is forgotten after `EXPIRY` seconds.
"""

from __future__ import annotations

import time
from collections import Counter

HEARTBEAT = 5.0
EXPIRY = 3 * HEARTBEAT


class Presence:
    def __init__(self, instance: str) -> None:
        self.instance = instance
        self._local: dict[int, Counter[int]] = {}
        self._remote: dict[str, tuple[float, dict[int, set[int]]]] = {}

    def join(self, table_id: int, user_id: int) -> bool:
        """Count one more connection; True if the person was not here through this instance."""
        counts = self._local.setdefault(table_id, Counter())
        counts[user_id] += 1
        return counts[user_id] == 1

    def leave(self, table_id: int, user_id: int) -> bool:
        """Count one connection less; True if it was the person's last one here."""
        counts = self._local.get(table_id)
        if not counts or counts[user_id] <= 0:
            return False
        counts[user_id] -= 1
        if counts[user_id] == 0:
            del counts[user_id]
            if not counts:
                del self._local[table_id]
            return True
        return False

    def local(self, table_id: int) -> list[int]:
        return sorted(self._local.get(table_id, {}))

    def local_tables(self) -> dict[int, list[int]]:
        return {table_id: sorted(users) for table_id, users in self._local.items()}

    def users(self, table_id: int) -> set[int]:
        """Everyone on the table, through any instance."""
        found = set(self._local.get(table_id, {}))
        for _seen, tables in self._remote.values():
            found |= tables.get(table_id, set())
        return found

    def apply(self, instance: str, tables: dict[int, list[int]], *, full: bool, now: float | None = None) -> set[int]:
        """Take another instance's report; return the tables whose people changed."""
        if instance == self.instance:
            return set()
        now = time.monotonic() if now is None else now
        before = {t: self.users(t) for t in self._tables_of(instance) | set(tables)}
        _seen, known = self._remote.get(instance, (now, {}))
        known = {} if full else dict(known)
        for table_id, users in tables.items():
            known[table_id] = set(users)
        self._remote[instance] = (now, {t: u for t, u in known.items() if u})
        return {t for t, people in before.items() if self.users(t) != people}

    def expire(self, now: float | None = None) -> set[int]:
        """Forget instances that stopped beating; return the tables whose people changed."""
        now = time.monotonic() if now is None else now
        changed: set[int] = set()
        for instance, (seen, tables) in list(self._remote.items()):
            if now - seen > EXPIRY:
                before = {t: self.users(t) for t in tables}
                del self._remote[instance]
                changed |= {t for t, people in before.items() if self.users(t) != people}
        return changed

    def _tables_of(self, instance: str) -> set[int]:
        return set(self._remote.get(instance, (0.0, {}))[1])
