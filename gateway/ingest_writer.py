"""The ingest writer: drains the MQTT queue, parses, batches, commits, then acknowledges.

A dedicated thread with its own sync connection: parsing and COPY stay off the asyncio loop, and paho's
network thread only ever enqueues bytes. A batch is flushed when it holds `batch_max_rows` rows, its first
message is `batch_max_ms` old counted from its receipt (messages that queued up during the previous flush
already used part of that budget), or no message has arrived for `batch_linger_ms` (the queue ran dry). Once
a batch is due it still takes what is already queued, without waiting, so a backlog is drained in full
batches rather than one message at a time. Messages are acknowledged only after their batch commits.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
import structlog

from gateway.metrics import Metrics
from gateway.store import batch_writer
from gateway.store.devices_cache import KnownDevices
from gateway.workers import ThreadWorker, WorkerRegistry
from ingest.models import DeadLetter, PayloadError, Pose, Reading
from ingest.mqtt import RawMessage

log = structlog.get_logger(__name__)

# parse(topic, payload, received_at) -> (kind, readings, poses); raises PayloadError for bad input.
Parser = Callable[[str, bytes, datetime], tuple[str, list[Reading], list[Pose]]]
StoredHook = Callable[[list[Reading], list[Pose]], None]


@dataclass
class _Batch:
    messages: list[RawMessage] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    poses: list[Pose] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    deadline: float = 0.0  # time.monotonic() at which the first message is batch_max_ms old

    @property
    def rows(self) -> int:
        return len(self.readings) + len(self.poses) + len(self.dead)


def batch_deadline(first_received_at: float, max_s: float, now_wall: float, now_mono: float) -> float:
    """Monotonic time at which a batch must flush: `max_s` after its first message was received (wall time)."""
    return now_mono - max(0.0, now_wall - first_received_at) + max_s


class IngestWriter:
    def __init__(
        self,
        conninfo: str,
        source: queue.Queue[RawMessage],
        ack: Callable[[list[RawMessage]], None],
        parse: Parser,
        devices: KnownDevices,
        metrics: Metrics,
        *,
        batch_max_rows: int = 5000,
        batch_max_ms: int = 200,
        batch_linger_ms: float = 2.0,
        accept_unknown_devices: bool = False,
        on_stored: list[StoredHook] | None = None,
    ) -> None:
        self.conninfo = conninfo
        self.source = source
        self.ack = ack
        self.parse = parse
        self.devices = devices
        self.metrics = metrics
        self.batch_max_rows = batch_max_rows
        self.batch_max_s = batch_max_ms / 1000
        self.linger_s = batch_linger_ms / 1000
        self.accept_unknown = accept_unknown_devices
        self.on_stored = on_stored or []
        self._stop = threading.Event()
        self._thread: ThreadWorker | None = None
        self._conn: psycopg.Connection | None = None
        self.healthy = threading.Event()

    # lifecycle
    def start(self, workers: WorkerRegistry | None = None) -> None:
        """Start the writer thread; with `workers`, it is supervised (restarted when it dies)."""
        self._thread = ThreadWorker("ingest-writer", self._run, stopping=self._stop.is_set, registry=workers)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Flush everything already queued, acknowledge it, then return."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:
            # Should never happen; if it does, the ThreadWorker logs it and (supervised) health turns red and the
            # writer is restarted. What this run had taken but not committed was never acknowledged, so the
            # broker still holds it for the session.
            self.healthy.clear()
            raise

    def _loop(self) -> None:
        self._connect_with_retry()  # the device registry must be loaded before the first message is judged
        batch = _Batch()
        while True:
            stopping = self._stop.is_set()
            # An open batch waits at most `linger` for the next message: when the queue runs dry the batch is
            # flushed at once (low latency when quiet); under load the queue refills during each flush, so
            # batches grow by themselves up to batch_max_rows / batch_max_ms (throughput), like group commit.
            # Past its deadline a batch only takes what is already queued (wait 0) and flushes when that runs out.
            wait = 0.05 if not batch.messages else max(0.0, min(self.linger_s, batch.deadline - time.monotonic()))
            try:
                msg = self.source.get(timeout=wait) if not stopping and wait > 0 else self.source.get_nowait()
            except queue.Empty:
                msg = None
            if msg is not None:
                if not batch.messages:
                    batch.deadline = batch_deadline(msg.received_at, self.batch_max_s, time.time(), time.monotonic())
                self._take(msg, batch)
            if batch.messages and (batch.rows >= self.batch_max_rows or msg is None):
                self._flush(batch)
                batch = _Batch()
            self.metrics.queue_depth.set(self.source.qsize())
            if stopping and msg is None and not batch.messages:
                break
        if self._conn is not None:
            self._conn.close()

    def _take(self, msg: RawMessage, batch: _Batch) -> None:
        batch.messages.append(msg)
        received = datetime.fromtimestamp(msg.received_at, UTC)
        try:
            kind, readings, poses = self.parse(msg.topic, msg.payload, received)
            self.metrics.messages_received.labels(kind).inc()
            if not self.accept_unknown:
                for device_id in {r.device_id for r in readings} | {p.device_id for p in poses}:
                    if not self.devices.known(device_id):
                        raise PayloadError("unknown_device", f"device {device_id!r} is not in the registry")
        except PayloadError as exc:
            self.metrics.messages_received.labels("invalid").inc()
            batch.dead.append(DeadLetter(msg.topic, exc.reason, exc.detail, bytes(msg.payload), received))
            return
        batch.readings.extend(readings)
        batch.poses.extend(poses)

    # storing
    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.conninfo, autocommit=True)
            batch_writer.prepare(self._conn)
            self.devices.attach(self._conn)
        return self._conn

    def _retrying(self, action: Callable[[], object]) -> object:
        """Run `action` until the store answers: an unreachable store delays, never drops."""
        delay = 0.2
        while True:
            try:
                result = action()
                self.healthy.set()
                return result
            except psycopg.OperationalError as exc:
                self.healthy.clear()
                self.metrics.store_errors.inc()
                log.warning("ingest.store_unavailable", error=str(exc).strip(), retry_in_s=delay)
                if self._conn is not None:
                    self._conn.close()
                time.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _connect_with_retry(self) -> None:
        self._retrying(self._connection)

    def _flush(self, batch: _Batch) -> None:
        # Keep the batch and do not acknowledge while the store is down; the broker holds the rest.
        t0 = time.perf_counter()
        result = self._retrying(lambda: self._write(batch))
        assert isinstance(result, batch_writer.WriteResult)
        self.metrics.flush_seconds.observe(time.perf_counter() - t0)
        self.metrics.commit_delay.observe(time.time() - batch.messages[0].received_at)
        self.ack(batch.messages)
        m = self.metrics
        m.batch_rows.observe(batch.rows)
        m.readings_stored.inc(result.readings_stored)
        m.readings_duplicate.inc(result.readings_duplicate)
        m.poses_stored.inc(result.poses_stored)
        m.poses_duplicate.inc(result.poses_duplicate)
        for d in batch.dead:
            m.dead_letters.labels(d.reason).inc()
        for hook in self.on_stored:
            try:
                hook(batch.readings, batch.poses)
            except Exception:  # a consumer's bug must not stop ingest
                log.exception("ingest.on_stored_hook_failed", hook=getattr(hook, "__qualname__", repr(hook)))

    def _write(self, batch: _Batch) -> batch_writer.WriteResult:
        conn = self._connection()
        try:
            return batch_writer.write_batch(conn, batch.readings, batch.poses, batch.dead)
        except (psycopg.DataError, psycopg.IntegrityError) as exc:
            # One bad row must not sink the valid rows beside it: store row by row, dead-letter the rest.
            log.warning("ingest.batch_rejected_splitting", error=str(exc).strip())
            return self._write_one_by_one(conn, batch)

    def _write_one_by_one(self, conn: psycopg.Connection, batch: _Batch) -> batch_writer.WriteResult:
        total = batch_writer.write_batch(conn, [], [], batch.dead)
        rejected: list[DeadLetter] = []
        for item in [*batch.readings, *batch.poses]:
            is_reading = isinstance(item, Reading)
            try:
                r = batch_writer.write_batch(conn, [item] if is_reading else [], [] if is_reading else [item], [])
            except (psycopg.DataError, psycopg.IntegrityError) as exc:
                rejected.append(DeadLetter(f"store/{item.device_id}", "store_rejected", str(exc).strip(),
                                           repr(item).encode(), item.received_at))
                continue
            total.readings_stored += r.readings_stored
            total.readings_duplicate += r.readings_duplicate
            total.poses_stored += r.poses_stored
            total.poses_duplicate += r.poses_duplicate
        if rejected:
            batch_writer.write_batch(conn, [], [], rejected)
            batch.dead.extend(rejected)
        return total
