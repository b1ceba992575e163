"""The ingest writer driven message by message on a real PostgreSQL (no MQTT): take messages into a batch,
flush it, look at what was stored, acknowledged, dead-lettered and handed to the hooks."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Callable
from datetime import datetime

import psycopg
from prometheus_client import CollectorRegistry

from gateway.app import make_parser
from gateway.config import Settings
from gateway.ingest_writer import IngestWriter, _Batch
from gateway.metrics import Metrics
from gateway.store.devices_cache import KnownDevices
from ingest.models import Pose, Reading
from ingest.mqtt import RawMessage


class WriterHarness:
    def __init__(self, db_url: str, parse: Callable | None = None, *, accept_unknown: bool = True) -> None:
        self.db_url = db_url
        self.acked: list[RawMessage] = []
        self.hooked: list[tuple[list[Reading], list[Pose]]] = []
        self.metrics = Metrics(CollectorRegistry())
        self.writer = IngestWriter(
            db_url, queue.Queue(), self.acked.extend, parse or make_parser(Settings()), KnownDevices(),
            self.metrics, accept_unknown_devices=accept_unknown,
            on_stored=[lambda r, p: self.hooked.append((list(r), list(p)))],
        )
        self._mid = 0

    def message(self, topic: str, payload: bytes | str | dict) -> RawMessage:
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        if isinstance(payload, str):
            payload = payload.encode()
        self._mid += 1
        return RawMessage(topic, payload, self._mid, 1, time.time())

    def batch(self, *messages: tuple[str, bytes | str | dict]) -> list[RawMessage]:
        """Take `messages` into one batch and flush it; returns them as taken."""
        b = _Batch()
        raws = [self.message(t, p) for t, p in messages]
        for m in raws:
            self.writer._take(m, b)
        self.writer._flush(b)
        return raws

    def rows(self, sql: str, *params: object) -> list[tuple]:
        with psycopg.connect(self.db_url) as conn:
            return conn.execute(sql, params).fetchall()

    def dead(self) -> list[tuple[str, str, str, bytes]]:
        return [(t, r, d, bytes(p)) for t, r, d, p in
                self.rows("SELECT topic, reason, detail, payload FROM dead_letters ORDER BY id")]

    def counter(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels or None)
        return value or 0.0

    def close(self) -> None:
        if self.writer._conn is not None:
            self.writer._conn.close()


def ts(t: datetime) -> str:
    return t.isoformat()
