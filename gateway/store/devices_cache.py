"""The set of registered device ids, as the ingest writer needs it: a lookup per message, no query.

An id not in the set triggers a reload (at most once per `min_reload_s`), so a device imported while the
gateway runs is accepted within about a second without a restart.
"""

from __future__ import annotations

import time

import psycopg


class KnownDevices:
    def __init__(self, min_reload_s: float = 1.0) -> None:
        self.min_reload_s = min_reload_s
        self._ids: frozenset[str] = frozenset()
        self._loaded_at = float("-inf")
        self._conn: psycopg.Connection | None = None

    def attach(self, conn: psycopg.Connection) -> None:
        self._conn = conn
        self.reload()

    def reload(self) -> None:
        if self._conn is None:
            return
        self._ids = frozenset(r[0] for r in self._conn.execute("SELECT id FROM devices"))
        self._loaded_at = time.monotonic()

    def known(self, device_id: str) -> bool:
        if device_id in self._ids:
            return True
        if time.monotonic() - self._loaded_at >= self.min_reload_s:
            self.reload()
        return device_id in self._ids
