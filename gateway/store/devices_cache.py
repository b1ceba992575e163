"""The set of registered device ids, as the ingest writer needs it: a set lookup per message.

An id not in the set is looked up in the store (one indexed query), so a device registered a moment ago is
accepted at once instead of being dead-lettered as unknown. Ids the store does not know are remembered as
unknown for `negative_ttl_s`, so a flood from an unregistered device costs one query per second, not one per
message. The whole set is re-read every `full_reload_s` to forget deleted devices.
"""

from __future__ import annotations

import time

import psycopg


class KnownDevices:
    def __init__(self, negative_ttl_s: float = 1.0, full_reload_s: float = 60.0) -> None:
        self.negative_ttl_s = negative_ttl_s
        self.full_reload_s = full_reload_s
        self._ids: set[str] = set()
        self._unknown: dict[str, float] = {}
        self._loaded_at = float("-inf")
        self._conn: psycopg.Connection | None = None

    def attach(self, conn: psycopg.Connection) -> None:
        self._conn = conn
        self.reload()

    def reload(self) -> None:
        if self._conn is None:
            return
        self._ids = {r[0] for r in self._conn.execute("SELECT id FROM devices")}
        self._unknown.clear()
        self._loaded_at = time.monotonic()

    def known(self, device_id: str) -> bool:
        now = time.monotonic()
        if now - self._loaded_at >= self.full_reload_s:
            self.reload()
        if device_id in self._ids:
            return True
        if now - self._unknown.get(device_id, float("-inf")) < self.negative_ttl_s or self._conn is None:
            return False
        if self._conn.execute("SELECT 1 FROM devices WHERE id = %s", (device_id,)).fetchone():
            self._ids.add(device_id)
            self._unknown.pop(device_id, None)
            return True
        if len(self._unknown) > 100_000:  # bounded: a scan of random ids must not grow memory forever
            self._unknown.clear()
        self._unknown[device_id] = now
        return False
