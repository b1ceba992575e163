"""The writer's batching policy, with the store stubbed out (what is flushed, and when): the batch deadline
counts from a message's receipt, and a backlog is drained in full batches."""

from __future__ import annotations

import queue
import threading
import time
from datetime import datetime

import pytest
from prometheus_client import CollectorRegistry

from gateway.ingest_writer import IngestWriter, batch_deadline
from gateway.metrics import Metrics
from ingest.models import Reading
from ingest.mqtt import RawMessage


def _parse(topic: str, payload: bytes, received: datetime) -> tuple[str, list[Reading], list, list]:
    return "sensor", [Reading(received, "d1", "LAeq", 50.0)], [], []


class _Recorder:
    def __init__(self) -> None:
        self.batches: list[tuple[float, int]] = []  # (monotonic time of flush, messages)
        self.flushed = threading.Event()

    def __call__(self, batch: object) -> None:
        self.batches.append((time.monotonic(), len(batch.messages)))  # type: ignore[attr-defined]
        self.flushed.set()


def _writer(source: queue.Queue, *, max_ms: int, linger_ms: float) -> tuple[IngestWriter, _Recorder]:
    w = IngestWriter("postgresql://unused", source, ack=lambda _m: None, parse=_parse, devices=None,  # type: ignore[arg-type]
                     metrics=Metrics(CollectorRegistry()), batch_max_ms=max_ms, batch_linger_ms=linger_ms,
                     accept_unknown_devices=True)
    rec = _Recorder()
    w._flush = rec  # type: ignore[method-assign]  # the store is not what this test is about
    w._connect_with_retry = lambda: None  # type: ignore[method-assign]
    return w, rec


def _msg(age_s: float, i: int = 0) -> RawMessage:
    return RawMessage("enf/sensor/d1/reading", b"{}", i, 1, time.time() - age_s)


@pytest.mark.parametrize(("now_wall", "received", "expected"), [
    (1000.0, 1000.0, 50.2),   # fresh: the whole budget
    (1000.0, 999.9, 50.1),    # queued 100 ms during the previous flush: 100 ms of it used
    (1000.0, 1000.5, 50.2),   # receipt stamped "in the future" (clock step): never more than the budget
])
def test_batch_deadline(now_wall: float, received: float, expected: float) -> None:
    assert batch_deadline(received, 0.2, now_wall, now_mono=50.0) == pytest.approx(expected)


def test_backlog_older_than_the_deadline_is_drained_in_one_batch() -> None:
    source: queue.Queue = queue.Queue()
    for i in range(300):
        source.put(_msg(age_s=10.0, i=i))  # far past batch_max_ms already
    w, rec = _writer(source, max_ms=50, linger_ms=2)
    w.start()
    assert rec.flushed.wait(10)
    w.stop()
    assert [n for _, n in rec.batches] == [300]


def test_deadline_counts_from_receipt_not_from_dequeue() -> None:
    source: queue.Queue = queue.Queue()
    w, rec = _writer(source, max_ms=5000, linger_ms=60_000)  # only the deadline can flush
    w.start()
    try:
        put = time.monotonic()
        source.put(_msg(age_s=10.0))  # received long ago (it waited in the broker/queue)
        assert rec.flushed.wait(4), "an overdue message must not wait another batch_max_ms"
        assert rec.batches[0][0] - put < 2.5
        rec.flushed.clear()
        put = time.monotonic()
        source.put(_msg(age_s=0.0))
        assert rec.flushed.wait(10)
        assert rec.batches[1][0] - put >= 4.5, "a fresh message waits for company up to its deadline"
    finally:
        w.stop()
