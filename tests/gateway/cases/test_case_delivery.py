"""Delivery to case systems through the outbox, against `enforcegw case-sink` over real HTTP and a real store:
exactly once per destination across an outage, signatures an independent implementation accepts, retries as
configured, Retry-After, 410, the retry budget and a supervisor's retry, and a sender killed mid-request."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from prometheus_client import CollectorRegistry
from standardwebhooks.webhooks import Webhook

from gateway.cases.config import CaseSystem, MatchRule, RetryPolicy
from gateway.cases.deliveries import retry_task
from gateway.cases.metrics import CaseMetrics
from gateway.cases.signing import WebhookSecret
from gateway.cases.sink import CaseSink
from gateway.cases.worker import DeliveryWorker
from testkit.case_tasks import SECRET, make_tasks
from testkit.services import free_port

pytestmark = pytest.mark.integration
FAST = RetryPolicy(base_s=0.2, cap_s=2.0, max_attempts=100, max_total_s=600)


def _system(name: str, url: str, **kw: object) -> CaseSystem:
    return CaseSystem.model_validate({"name": name, "url": url, "secret": SECRET, "retry": FAST,
                                      "ack_path": "case_no", **kw})


def _sink(**kw: object) -> CaseSink:
    return CaseSink([WebhookSecret.parse(SECRET)], **kw)


def _worker(db_url: str, systems: list[CaseSystem], **kw: object) -> tuple[DeliveryWorker, CaseMetrics]:
    metrics = CaseMetrics(CollectorRegistry())
    w = DeliveryWorker(db_url, systems, metrics, poll_s=0.2, **kw)
    w.start()
    return w, metrics


def _rows(db_url: str, sql: str, *args: object) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql, args).fetchall()


async def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def _states(db_url: str) -> dict[str, int]:
    return dict(_rows(db_url, "SELECT state, count(*) FROM case_deliveries GROUP BY state"))


async def test_a_sink_down_for_30_s_gets_every_task_once_per_destination(db_url: str) -> None:
    port_a, port_b = free_port(), free_port()
    up_at = datetime.now(UTC) + timedelta(seconds=30)
    city = _system("city", f"http://127.0.0.1:{port_a}/tasks")
    noise = _system("noise", f"http://127.0.0.1:{port_b}/in", match=[MatchRule(kinds=["construction_noise"])])
    water = _system("water", f"http://127.0.0.1:{free_port()}/", match=[MatchRule(kinds=["water_quality"])])
    made = make_tasks(db_url, 12, [city, noise, water])
    unrouted = make_tasks(db_url, 1, [noise, water], prefix="440605-20261202-U", kind="dust")
    assert all(t.systems == ("city", "noise") for t in made) and unrouted[0].unrouted
    async with _sink(port=port_a, down_until=up_at) as sink_a, _sink(port=port_b) as sink_b:
        worker, metrics = _worker(db_url, [city, noise, water])
        try:
            await _until(lambda: _states(db_url).get("delivered", 0) + _states(db_url).get("acknowledged", 0)
                         == 24, 90, "every delivery")
        finally:
            worker.stop()
        assert datetime.now(UTC) >= up_at
    for sink in (sink_a, sink_b):
        ids = [r.id for r in sink.receipts]
        assert len(ids) == len(set(ids)) == 12
        for r in sink.receipts:  # an independent implementation accepts every signature
            Webhook(SECRET).verify(r.body, r.headers)
            assert r.headers["idempotency-key"] == f'"{r.id}"'
    assert not sink_b.counts.get("duplicate")
    # the receiver's case number came back in its answer and is kept with the delivery
    refs = _rows(db_url, "SELECT system, receiver_ref FROM case_deliveries WHERE receiver_ref IS NOT NULL")
    assert len(refs) == 24 and all(ref.startswith("AJ") for _, ref in refs)
    # while it was down, city's deliveries were retried with growing, jittered gaps within the policy's ceilings
    attempts = _rows(db_url, "SELECT d.id, a.n, a.started_at, a.status FROM case_attempts a JOIN case_deliveries d"
                     " ON d.id = a.delivery_id WHERE d.system = 'city' ORDER BY d.id, a.n")
    by_delivery: dict[int, list[tuple]] = {}
    for d, n, started, status in attempts:
        by_delivery.setdefault(d, []).append((n, started, status))
    for tries in by_delivery.values():
        assert len(tries) >= 5 and tries[-1][2] == 200 and all(s is None for _, _, s in tries[:-1])
        for (n, t0, _), (_, t1, _) in itertools.pairwise(tries):
            ceiling = min(FAST.cap_s, FAST.base_s * 2 ** (n - 1))
            assert (t1 - t0).total_seconds() <= ceiling + 1.5  # + the claim loop's own latency
    assert metrics.unrouted._value.get() == 1


async def test_retry_after_is_honoured(db_url: str) -> None:
    async with _sink(status=429, retry_after_s=2) as sink:
        system = _system("slow", sink.url)
        make_tasks(db_url, 1, [system])
        worker, _ = _worker(db_url, [system])
        try:
            await _until(lambda: len(_rows(db_url, "SELECT 1 FROM case_attempts")) >= 2, 20, "two attempts")
        finally:
            worker.stop()
    (first, second) = _rows(db_url, "SELECT started_at, status, retry_after_s FROM case_attempts ORDER BY n")[:2]
    assert first[1] == 429 and first[2] == 2.0
    assert (second[0] - first[0]).total_seconds() >= 2.0


async def test_410_disables_the_system(db_url: str) -> None:
    async with _sink(status=410) as sink:
        system = _system("gone", sink.url)
        make_tasks(db_url, 3, [system])
        worker, metrics = _worker(db_url, [system])
        try:
            await _until(lambda: _states(db_url) == {"disabled": 3}, 20, "disabled deliveries")
            assert metrics.disabled.labels("gone")._value.get() == 1
        finally:
            worker.stop()
    assert _rows(db_url, "SELECT system FROM case_systems_disabled") == [("gone",)]
    later = make_tasks(db_url, 1, [system], prefix="440605-20261202-L")
    assert later[0].systems == ("gone",) and _states(db_url) == {"disabled": 4}


async def test_after_the_budget_push_failed_then_a_retry_sends_the_same_id(db_url: str) -> None:
    async with _sink(status=500) as sink:
        system = _system("flaky", sink.url, retry=RetryPolicy(base_s=0.1, cap_s=0.2, max_attempts=3))
        (task,) = make_tasks(db_url, 1, [system])
        worker, _ = _worker(db_url, [system])
        try:
            await _until(lambda: _states(db_url) == {"push_failed": 1}, 20, "push_failed")
            assert len(_rows(db_url, "SELECT 1 FROM case_attempts")) == 3
            sink.status = None  # the receiver is fixed; a supervisor retries
            with psycopg.connect(db_url) as conn, conn.transaction():
                assert retry_task(conn, task.id) == ["flaky"]
            await _until(lambda: _states(db_url) == {"acknowledged": 1} or _states(db_url) == {"delivered": 1},
                         20, "delivered after the retry")
        finally:
            worker.stop()
    (webhook_id,) = _rows(db_url, "SELECT webhook_id FROM case_deliveries")[0]
    assert [r.id for r in sink.receipts] == [webhook_id]


_KILLED_WORKER = """
import sys, time
from prometheus_client import CollectorRegistry
from gateway.cases.config import CaseSystem
from gateway.cases.metrics import CaseMetrics
from gateway.cases.worker import DeliveryWorker
system = CaseSystem.model_validate({"name": "slow", "url": sys.argv[2], "secret": sys.argv[3], "timeout_s": 1})
DeliveryWorker(sys.argv[1], [system], CaseMetrics(CollectorRegistry()), poll_s=0.2).start()
time.sleep(600)
"""


async def test_a_sender_killed_mid_request_resends_the_same_id_and_the_sink_keeps_one(db_url: str) -> None:
    async with _sink(stall_s=3) as sink:
        make_tasks(db_url, 1, [_system("slow", sink.url)])
        proc = subprocess.Popen([sys.executable, "-c", _KILLED_WORKER, db_url, sink.url, SECRET],
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            await _until(lambda: sink.in_flight > 0, 30, "the request in flight")
            proc.send_signal(signal.SIGKILL)  # after sending, before recording the answer
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert _states(db_url) == {"delivering": 1}
        await _until(lambda: len(sink.receipts) == 1, 10, "the stalled request handled")
        sink.stall_s = 0
        system = _system("slow", sink.url, timeout_s=1)
        worker, _ = _worker(db_url, [system], lease_margin_s=0.5)  # the dead sender's lease: 1 s + 30 s margin
        try:
            with psycopg.connect(db_url, autocommit=True) as conn:  # let it run out now rather than in 31 s
                conn.execute("UPDATE case_deliveries SET next_attempt_at = now()")
            await _until(lambda: _states(db_url) in ({"acknowledged": 1}, {"delivered": 1}), 20, "redelivery")
        finally:
            worker.stop()
    assert len(sink.receipts) == 1 and sink.counts.get("duplicate") == 1
    (ref,) = _rows(db_url, "SELECT receiver_ref FROM case_deliveries")[0]
    assert ref == sink.receipts[0].case_no  # the duplicate was answered with the first case number
    assert json.loads(sink.receipts[0].body)["clue_code"].startswith("440605-")


async def test_the_first_success_after_an_outage_makes_the_rest_due_at_once(db_url: str) -> None:
    port = free_port()
    patient = _system("patient", f"http://127.0.0.1:{port}/", retry=RetryPolicy(base_s=300, cap_s=3000))
    make_tasks(db_url, 6, [patient])
    worker, _ = _worker(db_url, [patient])
    try:  # the receiver is down: each delivery fails once and backs off for up to 5 minutes
        await _until(lambda: len(_rows(db_url, "SELECT 1 FROM case_attempts")) == 6, 20, "six failed attempts")
        async with _sink(port=port) as sink:
            with psycopg.connect(db_url, autocommit=True) as conn:  # the first back-off to run out
                conn.execute("UPDATE case_deliveries SET next_attempt_at = now()"
                             " WHERE id = (SELECT min(id) FROM case_deliveries)")
            await _until(lambda: len(sink.receipts) == 6, 20, "the other five pulled forward")
    finally:
        worker.stop()
    waits = _rows(db_url, "SELECT extract(epoch FROM a.started_at - f.started_at) FROM case_attempts a"
                  " JOIN case_attempts f ON f.delivery_id = a.delivery_id AND f.n = 1 WHERE a.n = 2")
    assert len(waits) == 6 and max(w for (w,) in waits) < 60


def test_a_claim_takes_at_most_its_limit_even_with_a_plan_cached_on_an_empty_table(db_url: str) -> None:
    from gateway.cases.deliveries import claim_due

    system = _system("many", "http://127.0.0.1:1/")
    with psycopg.connect(db_url, autocommit=True) as conn:
        for _ in range(8):  # past the executions after which psycopg prepares and PostgreSQL caches a plan
            assert claim_due(conn, "many", 16, timedelta(seconds=60)) == []
        make_tasks(db_url, 200, [system])
        claimed = claim_due(conn, "many", 16, timedelta(seconds=60))
        again = claim_due(conn, "many", 16, timedelta(seconds=60))
    assert len(claimed) == 16 and len(again) == 16 and not {c.id for c in claimed} & {c.id for c in again}
