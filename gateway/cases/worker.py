"""The delivery worker: sends due deliveries to their case systems, signed to Standard Webhooks, with bounded
concurrency per system, and records every attempt.

It runs its own asyncio loop in a supervised thread (aiohttp for the requests; the store's sync calls in worker
threads, because the evidence log appends on a sync connection). It wakes on the outbox NOTIFY (a new task, a
retry) and otherwise when the next delivery falls due, at most `poll_s` apart; several gateway processes on one
database share the work through the claim's SKIP LOCKED.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aiohttp
import psycopg
import structlog
from psycopg_pool import ConnectionPool

from evidence.log import EvidenceLog
from gateway.cases import deliveries
from gateway.cases.acks import ack_entry, record_ack, ref_from_body
from gateway.cases.backoff import next_attempt, parse_retry_after
from gateway.cases.config import CaseSystem
from gateway.cases.metrics import CaseMetrics
from gateway.cases.signing import webhook_headers
from gateway.workers import ThreadWorker, WorkerRegistry

log = structlog.get_logger(__name__)

LEASE_MARGIN_S = 30.0  # a claim outlives the request's timeout by this much before another worker may resend
MAX_ANSWER_BYTES = 1 << 20
METRICS_EVERY_S = 5.0
STOP_GRACE_S = 5.0
# A success on a retried delivery pulls its system's backed-off deliveries forward at most this often: during a
# drain every success is a retried one, and each pull scans the system's pending rows.
PULL_FORWARD_EVERY_S = 1.0


class DeliveryWorker:
    def __init__(self, database_url: str, systems: list[CaseSystem], metrics: CaseMetrics, *,
                 evidence: EvidenceLog | None = None, poll_s: float = 1.0, rng: random.Random | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 lease_margin_s: float = LEASE_MARGIN_S) -> None:
        self.database_url = database_url
        self.systems = {s.name: s for s in systems}
        self.metrics = metrics
        self.evidence = evidence
        self.poll_s = poll_s
        self.rng = rng or random.Random()
        self.clock = clock
        self.lease_margin_s = lease_margin_s
        self._stop = threading.Event()
        self._thread: ThreadWorker | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._in_flight: dict[str, int] = {}
        self._disabled: dict[str, str] = {}
        self._failing: set[str] = set()  # systems whose last answer was a failure: a success pulls the rest forward
        self._pulled_at: dict[str, float] = {}  # monotonic time of each system's last pull-forward
        self.last_error: str | None = None

    # lifecycle
    def start(self, workers: WorkerRegistry | None = None) -> None:
        self._stop.clear()
        self._thread = ThreadWorker("case-delivery", self._run, stopping=self._stop.is_set, registry=workers)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.alive()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self, *_args: object) -> None:
        """Look for due deliveries now (thread-safe: the outbox NOTIFY calls it)."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
                loop.call_soon_threadsafe(event.set)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        pool = ConnectionPool(self.database_url, min_size=1, max_size=4, open=False, kwargs={"autocommit": True})
        await asyncio.to_thread(pool.open, True, 30)
        sends: set[asyncio.Task] = set()
        try:
            async with aiohttp.ClientSession(auto_decompress=True) as session:
                next_metrics = 0.0
                while not self._stop.is_set():
                    self._wake.clear()
                    try:
                        if time.monotonic() >= next_metrics:
                            await asyncio.to_thread(self._refresh, pool)
                            next_metrics = time.monotonic() + METRICS_EVERY_S
                        for c, system in await asyncio.to_thread(self._claim, pool):
                            task = asyncio.create_task(self._send(session, pool, system, c))
                            sends.add(task)
                            task.add_done_callback(sends.discard)
                        wait = await asyncio.to_thread(self._sleep_for, pool)
                        self.last_error = None
                    except psycopg.OperationalError as exc:  # the store went away: wait and look again
                        self.last_error = f"store unavailable: {exc}".strip()
                        log.warning("cases.store_unavailable", error=str(exc).strip())
                        wait = self.poll_s
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), wait)
                if sends:  # let requests in flight end; what is cut off is resent when its lease runs out
                    _done, pending = await asyncio.wait(sends, timeout=STOP_GRACE_S)
                    for t in pending:
                        t.cancel()
                    await asyncio.gather(*pending, return_exceptions=True)
        finally:
            await asyncio.to_thread(pool.close)
            self._loop = None

    # the store
    def _claim(self, pool: ConnectionPool) -> list[tuple[deliveries.Claimed, CaseSystem]]:
        out = []
        with pool.connection() as conn:
            self._disabled = deliveries.disabled_systems(conn)
            for name, system in self.systems.items():
                if not system.enabled or name in self._disabled:
                    continue
                free = system.max_in_flight - self._in_flight.get(name, 0)
                lease = timedelta(seconds=system.timeout_s + self.lease_margin_s)
                for c in deliveries.claim_due(conn, name, free, lease):
                    self._in_flight[name] = self._in_flight.get(name, 0) + 1
                    out.append((c, system))
        return out

    def _sleep_for(self, pool: ConnectionPool) -> float:
        with pool.connection() as conn:
            due = deliveries.next_due(conn)
        if due is None:
            return self.poll_s
        return max(0.01, min(self.poll_s, (due - self.clock()).total_seconds()))

    def _refresh(self, pool: ConnectionPool) -> None:
        with pool.connection() as conn:
            counts, oldest, unrouted = deliveries.state_counts(conn)
            disabled = deliveries.disabled_systems(conn)
        m = self.metrics
        m.deliveries.clear()
        for state, system, n in counts:
            m.deliveries.labels(state, system).set(n)
        m.oldest_pending.set(oldest)
        m.unrouted.set(unrouted)
        for name in self.systems:
            m.disabled.labels(name).set(1 if name in disabled else 0)

    # one attempt
    async def _send(self, session: aiohttp.ClientSession, pool: ConnectionPool, system: CaseSystem,
                    c: deliveries.Claimed) -> None:
        started = self.clock()
        headers = {"Content-Type": "application/json", "User-Agent": "enforcegw-cases/1",
                   **webhook_headers(system.secrets, c.webhook_id, int(time.time()), c.body)}
        t0 = time.perf_counter()
        status, answer, error, retry_after, result = None, b"", None, None, "error"
        try:
            async with session.post(system.url, data=c.body, headers=headers,
                                    timeout=aiohttp.ClientTimeout(total=system.timeout_s)) as resp:
                status = resp.status
                answer = await resp.content.read(MAX_ANSWER_BYTES)
                retry_after = parse_retry_after(resp.headers.get("Retry-After"), self.clock()) \
                    if status in (429, 503) else None
        except TimeoutError:
            error, result = f"no answer within {system.timeout_s:g} s", "timeout"
        except aiohttp.ClientError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        except asyncio.CancelledError:
            self._in_flight[system.name] -= 1
            raise
        latency = time.perf_counter() - t0
        self.metrics.attempts.labels(system.name, result if status is None else f"{status // 100}xx").inc()
        if status is not None:
            self.metrics.attempt_seconds.labels(system.name).observe(latency)
            if not 200 <= status < 300:
                error = f"HTTP {status}: {answer[:200].decode('utf-8', 'replace')}".strip()
        attempt = deliveries.Attempt(started, latency * 1000 if status is not None else None, status, error,
                                     retry_after)
        try:
            await asyncio.to_thread(self._record, pool, system, c, attempt, answer)
        except Exception:
            # The attempt's outcome is lost, not the delivery: its lease runs out and it is sent again.
            log.exception("cases.record_failed", delivery=c.id, system=system.name)
        finally:
            self._in_flight[system.name] -= 1
            self.wake()

    def _pull_due(self, system: str, attempt: int) -> bool:
        """Whether this success should make the system's backed-off deliveries due now: the first after this
        worker saw it fail, or one of a retried delivery (the failures may have been another process's, or before
        a restart), the latter at most every PULL_FORWARD_EVERY_S."""
        now = time.monotonic()
        if system in self._failing or (
                attempt > 1 and now - self._pulled_at.get(system, -math.inf) >= PULL_FORWARD_EVERY_S):
            self._failing.discard(system)
            self._pulled_at[system] = now
            return True
        return False

    def _record(self, pool: ConnectionPool, system: CaseSystem, c: deliveries.Claimed,
                attempt: deliveries.Attempt, answer: bytes) -> None:
        status = attempt.status
        with pool.connection() as conn:
            if status is not None and 200 <= status < 300:
                ref = ref_from_body(answer, system.ack_path)
                then = None
                if ref is not None:
                    entry = ack_entry(task_id=c.task_id, clue_code=c.clue_code, system=system.name,
                                      webhook_id=c.webhook_id, receiver_ref=ref, via="response")
                    then = lambda conn: record_ack(conn, self.evidence, delivery_id=c.id, entry=entry)  # noqa: E731
                    self.metrics.acks.labels("response", "recorded").inc()
                deliveries.record_attempt(conn, c, attempt, state="delivered", next_at=None, then=then)
                if self._pull_due(system.name, c.attempt):
                    n = deliveries.pull_forward(conn, system.name)
                    if n:
                        log.info("cases.system_recovered", system=system.name, deliveries_due_now=n)
                log.info("cases.delivered", task=c.task_id, system=system.name, attempt=c.attempt,
                         status=status, receiver_ref=ref)
                return
            if status == 410:
                deliveries.record_attempt(conn, c, attempt, state="disabled", next_at=None)
                n = deliveries.disable_system(conn, system.name, f"HTTP 410 Gone from {system.url}")
                self.metrics.disabled.labels(system.name).set(1)
                log.error("cases.system_disabled", system=system.name, url=system.url, deliveries=n)
                return
            self._failing.add(system.name)
            nxt = next_attempt(system.retry, attempts=c.attempt, first_attempt_at=c.first_attempt_at,
                               now=self.clock(), retry_after_s=attempt.retry_after_s, rng=self.rng)
            state = "pending" if nxt.at is not None else "push_failed"
            deliveries.record_attempt(conn, c, attempt, state=state, next_at=nxt.at)
            (log.warning if state == "pending" else log.error)(
                "cases.attempt_failed" if state == "pending" else "cases.push_failed", task=c.task_id,
                system=system.name, attempt=c.attempt, status=status, error=attempt.error,
                next_at=nxt.at.isoformat() if nxt.at else None, retry_after=nxt.waited_for_receiver)
