"""The ingest writer: drains the MQTT queue, parses, batches, commits, then acknowledges.

A dedicated thread with its own sync connection: parsing and COPY stay off the asyncio loop, and paho's
network thread only ever enqueues bytes. A batch is flushed when it holds `batch_max_rows` rows, its first
message is `batch_max_ms` old counted from its receipt (messages that queued up during the previous flush
already used part of that budget), or no message has arrived for `batch_linger_ms` (the queue ran dry). Once
a batch is due it still takes what is already queued, without waiting, so a backlog is drained in full
batches rather than one message at a time. Messages are acknowledged only after their batch commits.

Every message taken ends as stored rows, a duplicate, or a dead letter holding its topic and bytes: a parser
refusal (`PayloadError`) with its reason, an unexpected parser exception as `parser_error` (logged with its
traceback once per kind of fault; the writer goes on, so a redelivered poison message cannot stop ingest), a
conflict with stored rows (`gateway.store.conflicts`), or rows the store refused (`store_rejected`).

A message that carries a `reply` (HTTP ingest: its client waits for the answer) is told which of those it
became, as an `Outcome`, after its batch has committed and before the stored hooks run. Messages from other
transports than the broker come in through `submit`, which never blocks: a full queue is the caller's to answer.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import psycopg
import structlog

from gateway.metrics import Metrics
from gateway.store import batch_writer
from gateway.store.devices_cache import KnownDevices
from gateway.workers import ThreadWorker, WorkerRegistry
from ingest.device_events import DeviceEvent
from ingest.models import DeadLetter, PayloadError, Pose, Reading
from ingest.mqtt import RawMessage

log = structlog.get_logger(__name__)

# parse(topic, payload, received_at) -> (kind, readings, poses, events); raises PayloadError for bad input.
Parser = Callable[[str, bytes, datetime], tuple[str, list[Reading], list[Pose], list[DeviceEvent]]]
StoredHook = Callable[[list[Reading], list[Pose]], None]
# Errors that come from the content of a row (not from the store's state): the batch is split per message.
# ValueError: what fails before the server, psycopg encoding a string PostgreSQL cannot hold (UnicodeError) or a
# record that is not JSON (a non-finite number).
_ROW_ERRORS = (psycopg.DataError, psycopg.IntegrityError, ValueError)
_MAX_DETAIL = 500


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one message once its batch committed."""

    result: Literal["stored", "duplicate", "dead_letter"]
    rows: int = 0  # the rows the message carried (stored, or all already stored for a duplicate)
    reason: str = ""  # a dead letter's reason code (`enforcegw_dead_letters_total{reason}`)
    detail: str = ""  # a dead letter's detail: which field, which value, which stored value


@dataclass
class _Batch(batch_writer.Batch):
    deadline: float = 0.0  # time.monotonic() at which the first message is batch_max_ms old
    dead_msg: list[int] = field(default_factory=list)  # dead_msg[i]: the message `dead[i]` refused
    waiting: list[int] = field(default_factory=list)  # messages with a reply to tell


class _ParserFaults:
    """A parser exception other than PayloadError is a bug in our code that some payload reaches. Its traceback
    is logged the first time each kind of fault (exception type and the line raising it) is met; repeats only
    count, with a line at most every `every_s` per kind, so a flood of one bad message cannot fill the log."""

    def __init__(self, every_s: float = 60.0, max_kinds: int = 1000) -> None:
        self.every_s = every_s
        self.max_kinds = max_kinds
        self._kinds: dict[tuple[str, str, int], list[float]] = {}  # kind -> [last logged, repeats since]

    def report(self, exc: Exception, topic: str) -> None:
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        kind = (type(exc).__name__, tb.tb_frame.f_code.co_filename if tb else "?", tb.tb_lineno if tb else 0)
        now = time.monotonic()
        seen = self._kinds.get(kind)
        if seen is None:
            if len(self._kinds) >= self.max_kinds:
                self._kinds.clear()
            self._kinds[kind] = [now, 0]
            log.error("ingest.parser_error", topic=topic, error=f"{type(exc).__name__}: {exc}"[:_MAX_DETAIL],
                      exc_info=exc)
            return
        seen[1] += 1
        if now - seen[0] >= self.every_s:
            log.error("ingest.parser_error_repeated", topic=topic, error=f"{type(exc).__name__}: {exc}"[:_MAX_DETAIL],
                      repeats=int(seen[1]), at=f"{kind[1]}:{kind[2]}")
            seen[0], seen[1] = now, 0


def _see(seen: dict[str, datetime], device_id: str, t: datetime) -> None:
    prev = seen.get(device_id)
    if prev is None or t > prev:
        seen[device_id] = t


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
        self._faults = _ParserFaults()

    # lifecycle
    def start(self, workers: WorkerRegistry | None = None) -> None:
        """Start the writer thread; with `workers`, it is supervised (restarted when it dies)."""
        self._thread = ThreadWorker("ingest-writer", self._run, stopping=self._stop.is_set, registry=workers)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.alive()

    def submit(self, msg: RawMessage) -> None:
        """Queue a message that did not come from the broker; raises `queue.Full` instead of waiting for room."""
        self.source.put_nowait(msg)

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
        index = len(batch.messages)
        batch.messages.append(msg)
        if msg.reply is not None:
            batch.waiting.append(index)
        received = datetime.fromtimestamp(msg.received_at, UTC)
        if msg.refusal is not None:
            self._refuse(batch, index, received, *msg.refusal)
            return
        try:
            kind, readings, poses, events = self.parse(msg.topic, msg.payload, received)
        except PayloadError as exc:
            self._refuse(batch, index, received, exc.reason, exc.detail)
            return
        except Exception as exc:
            # Dead-letter it and go on: the broker would redeliver a message that stopped the writer, forever.
            self._faults.report(exc, msg.topic)
            self._refuse(batch, index, received, "parser_error",
                         f"{type(exc).__name__} in the parser: {exc}"[:_MAX_DETAIL])
            return
        self.metrics.messages_received.labels(kind).inc()
        if not self.accept_unknown:
            ids = {r.device_id for r in readings} | {p.device_id for p in poses} | {e.device_id for e in events}
            for device_id in ids:
                if not self._known(device_id):
                    self._refuse(batch, index, received, "unknown_device",
                                 f"device {device_id!r} is not in the registry")
                    return
        seen = batch.seen
        if readings:
            batch.readings.extend(readings)
            batch.reading_msg.extend([index] * len(readings))
            _see(seen, readings[0].device_id, max(r.time for r in readings))
        if poses:
            batch.poses.extend(poses)
            batch.pose_msg.extend([index] * len(poses))
            for p in poses:
                _see(seen, p.device_id, p.time)
        if events:
            batch.events.extend(events)
            batch.event_msg.extend([index] * len(events))
            for e in events:
                if e.online is not False:  # an offline report (often the broker's last will) is not a sighting
                    _see(seen, e.device_id, e.time)

    def _refuse(self, batch: _Batch, index: int, received: datetime, reason: str, detail: str) -> None:
        msg = batch.messages[index]
        self.metrics.messages_received.labels("invalid").inc()
        batch.dead.append(DeadLetter(msg.topic, reason, detail, bytes(msg.payload), received))
        batch.dead_msg.append(index)

    def _known(self, device_id: str) -> bool:
        # A registry lookup can meet a store that went away since the last batch: wait for it as a flush does.
        return bool(self._retrying(lambda: self._connection() is not None and self.devices.known(device_id)))

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
        m.device_events_stored.inc(result.events_stored)
        m.device_events_duplicate.inc(result.events_duplicate)
        for d in (*batch.dead, *result.conflicts, *result.rejected):
            m.dead_letters.labels(d.reason).inc()
        for kind in result.conflict_kinds:
            m.conflicts.labels(kind).inc()
        if batch.waiting:
            self._reply(batch, result)
        readings, poses = batch.readings, batch.poses
        if result.refused:  # hooks see what this batch stored, never a refused value
            out = result.refused
            readings = [r for r, i in zip(readings, batch.reading_msg, strict=True) if i not in out]
            poses = [p for p, i in zip(poses, batch.pose_msg, strict=True) if i not in out]
        for hook in self.on_stored:
            try:
                hook(readings, poses)
            except Exception:  # a consumer's bug must not stop ingest
                log.exception("ingest.on_stored_hook_failed", hook=getattr(hook, "__qualname__", repr(hook)))

    def _reply(self, batch: _Batch, result: batch_writer.WriteResult) -> None:
        for index, outcome in outcomes(batch, result).items():
            reply = batch.messages[index].reply
            assert reply is not None
            try:
                reply(outcome)
            except Exception:  # the waiting caller's bug must not stop ingest
                log.exception("ingest.reply_failed", topic=batch.messages[index].topic)

    def _write(self, batch: _Batch) -> batch_writer.WriteResult:
        conn = self._connection()
        try:
            return batch_writer.write_batch(conn, batch)
        except _ROW_ERRORS as exc:
            # One bad row must not sink the valid messages beside it: store message by message.
            log.warning("ingest.batch_rejected_splitting", error=str(exc).strip()[:_MAX_DETAIL])
            return self._write_one_by_one(conn, batch)

    def _write_one_by_one(self, conn: psycopg.Connection, batch: _Batch) -> batch_writer.WriteResult:
        total = batch_writer.write_batch(conn, batch_writer.Batch(dead=batch.dead, seen=batch.seen))
        for i, one in _per_message(batch):
            try:
                r = batch_writer.write_batch(conn, one)
            except _ROW_ERRORS as exc:
                raw = one.messages[0]
                total.rejected.append(DeadLetter(raw.topic, "store_rejected", str(exc).strip()[:_MAX_DETAIL],
                                                 bytes(raw.payload), datetime.fromtimestamp(raw.received_at, UTC)))
                total.refused.add(i)
                continue
            total.add(r)
            if r.refused:
                total.refused.add(i)
        if total.rejected:
            batch_writer.write_batch(conn, batch_writer.Batch(dead=total.rejected))
        return total


def outcomes(batch: _Batch, result: batch_writer.WriteResult) -> dict[int, Outcome]:
    """The outcome of each message of `batch.waiting`, from what the batch's write returned.

    The write names the messages it refused (`result.refused`: duplicates, conflicts, store rejections) and
    gives the dead letters of the last two with their message's topic and bytes, not its index: a refused
    message is matched to its dead letter by those. Copies of one topic and payload in a batch share one
    verdict (each is judged against the same stored or earlier accepted rows), so the match cannot mix them up.
    """
    parsed_out = dict(zip(batch.dead_msg, batch.dead, strict=True))
    refused_letters = {(d.topic, d.payload): d for d in (*result.conflicts, *result.rejected)}
    rows = Counter(batch.reading_msg)
    rows.update(batch.pose_msg)
    rows.update(batch.event_msg)
    out: dict[int, Outcome] = {}
    for i in batch.waiting:
        letter = parsed_out.get(i)
        if letter is None and i in result.refused:
            msg = batch.messages[i]
            letter = refused_letters.get((msg.topic, bytes(msg.payload)))
        if letter is not None:
            out[i] = Outcome("dead_letter", reason=letter.reason, detail=letter.detail)
        else:
            out[i] = Outcome("duplicate" if i in result.refused else "stored", rows=rows[i])
    return out


def _per_message(batch: batch_writer.Batch) -> list[tuple[int, batch_writer.Batch]]:
    """The batch as one batch per message that has rows, each with its message at index 0."""
    out: dict[int, batch_writer.Batch] = {}

    def one(i: int) -> batch_writer.Batch:
        b = out.get(i)
        if b is None:
            b = out[i] = batch_writer.Batch(messages=[batch.messages[i]])
        return b

    for r, i in zip(batch.readings, batch.reading_msg, strict=True):
        b = one(i)
        b.readings.append(r)
        b.reading_msg.append(0)
    for p, i in zip(batch.poses, batch.pose_msg, strict=True):
        b = one(i)
        b.poses.append(p)
        b.pose_msg.append(0)
    for e, i in zip(batch.events, batch.event_msg, strict=True):
        b = one(i)
        b.events.append(e)
        b.event_msg.append(0)
    return sorted(out.items())
