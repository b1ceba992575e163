"""The reference case receiver over real HTTP: it takes what is signed (by us or by the `standardwebhooks`
package), refuses what is not and says why, keeps each webhook-id once across restarts, and fails, stalls or
stays down when told to."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from standardwebhooks.webhooks import Webhook

from gateway.cases.signing import WebhookSecret, verify, webhook_headers
from gateway.cases.sink import CaseSink, SinkDataError, SinkListenError
from testkit.services import free_port

SECRET = WebhookSecret.parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
OTHER = WebhookSecret.generate()
T0 = 1_772_000_000  # 2026-02-25, so case numbers read AJ2026...


class Clock:
    """The sink's clock, moved by the test: timestamps are checked against it and `down_until` waits for it."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@asynccontextmanager
async def running(**kw: Any) -> AsyncIterator[CaseSink]:
    kw.setdefault("clock", Clock())
    sink = CaseSink([SECRET], **kw)
    await sink.start()
    try:
        yield sink
    finally:
        await sink.stop()


@asynccontextmanager
async def client(timeout_s: float = 30.0) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
        yield session


def task_body(n: int, **extra: Any) -> bytes:
    return json.dumps({"task_id": f"T{n}", "clue_code": f"CLUE-{n}", **extra}, ensure_ascii=False).encode()


def ours(msg_id: str, ts: int, body: bytes) -> dict[str, str]:
    return webhook_headers([SECRET], msg_id, ts, body)


def package(msg_id: str, ts: int, body: bytes) -> dict[str, str]:
    sig = Webhook(SECRET.text()).sign(msg_id, datetime.fromtimestamp(ts, UTC), body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": sig}


async def deliver(session: aiohttp.ClientSession, sink: CaseSink, msg_id: str, body: bytes,
                  headers: dict[str, str] | None = None, path: str = "/") -> tuple[int, dict[str, Any], Any]:
    ts = int(sink.clock())
    async with session.post(sink.url + path, data=body, headers=ours(msg_id, ts, body) if headers is None
                            else headers) as resp:
        return resp.status, dict(resp.headers), await resp.json()


@pytest.mark.parametrize("signer", [ours, package], ids=["ours", "standardwebhooks"])
async def test_a_signed_delivery_becomes_a_case(signer: Callable[[str, int, bytes], dict[str, str]]) -> None:
    body = task_body(1, summary="餐饮油烟超标")
    async with running() as sink, client() as session:
        status, _, answer = await deliver(session, sink, "task_1-city", body, signer("task_1-city", T0, body),
                                          path="/cases/inbox")
        assert (status, answer) == (200, {"case_no": "AJ2026000001", "received": "task_1-city"})
        [receipt] = sink.receipts
        assert (receipt.id, receipt.timestamp, receipt.path) == ("task_1-city", T0, "/cases/inbox")
        assert receipt.body.encode() == body
        assert receipt.headers["webhook-id"] == "task_1-city"
        assert sink.counts["received"] == 1


def _unsigned(msg_id: str, ts: int, body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json"}


def _signed_by(secret: WebhookSecret) -> Callable[[str, int, bytes], dict[str, str]]:
    return lambda msg_id, ts, body: webhook_headers([secret], msg_id, ts, body)


def _at(offset: int) -> Callable[[str, int, bytes], dict[str, str]]:
    return lambda msg_id, ts, body: ours(msg_id, ts + offset, body)


def _with(name: str, value: str) -> Callable[[str, int, bytes], dict[str, str]]:
    return lambda msg_id, ts, body: {**ours(msg_id, ts, body), name: value}


def _body_swapped(msg_id: str, ts: int, body: bytes) -> dict[str, str]:
    return ours(msg_id, ts, body.replace(b"T7", b"T8"))


@pytest.mark.parametrize(("make_headers", "body", "status", "code", "outcome"), [
    (_unsigned, task_body(7), 401, "missing_header", "refused"),
    (_at(-301), task_body(7), 401, "too_old", "refused"),
    (_at(+301), task_body(7), 401, "too_new", "refused"),
    (_signed_by(OTHER), task_body(7), 401, "no_matching_signature", "refused"),
    (_body_swapped, task_body(7), 401, "no_matching_signature", "refused"),
    (_with("webhook-timestamp", "soon"), task_body(7), 401, "bad_timestamp", "refused"),
    (_with("webhook-id", "a.b"), task_body(7), 401, "bad_message_id", "refused"),
    (_with("Idempotency-Key", '"another-id"'), task_body(7), 400, "idempotency_key_mismatch", "invalid"),
    (_with("Idempotency-Key", "task_7"), task_body(7), 400, "bad_idempotency_key", "invalid"),
    (ours, b"\xff\xfe not utf-8", 400, "body_not_utf8", "invalid"),
])
async def test_what_proves_nothing_is_refused_and_not_kept(make_headers: Callable[[str, int, bytes], dict[str, str]],
                                                           body: bytes, status: int, code: str, outcome: str) -> None:
    async with running() as sink, client() as session:
        got, _, answer = await deliver(session, sink, "task_7", body, make_headers("task_7", T0, body))
        assert got == status
        assert answer["error"]["code"] == code and answer["error"]["message"]
        assert sink.receipts == []
        assert dict(sink.counts) == {outcome: 1}
        # the same id, properly signed, is then taken: a refusal remembers nothing
        ok, _, answer = await deliver(session, sink, "task_7", task_body(7))
        assert (ok, answer["case_no"]) == (200, "AJ2026000001")


async def test_a_repeat_is_one_case_also_after_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "sink.jsonl"
    clock = Clock()
    async with running(data_path=data, clock=clock) as sink, client() as session:
        first = await deliver(session, sink, "task_1-city", task_body(1))
        await deliver(session, sink, "task_2-city", task_body(2))
        clock.t += 60  # a retry is signed afresh: a later timestamp, the same id and body
        again = await deliver(session, sink, "task_1-city", task_body(1))
        assert first[2] == {"case_no": "AJ2026000001", "received": "task_1-city"}
        assert again[2] == {**first[2], "duplicate": True}
        assert (sink.counts["received"], sink.counts["duplicate"]) == (2, 1)
    assert len(data.read_text().splitlines()) == 2
    async with running(data_path=data, clock=clock) as sink, client() as session:
        assert [r.id for r in sink.receipts] == ["task_1-city", "task_2-city"]
        status, _, answer = await deliver(session, sink, "task_2-city", task_body(2))
        assert (status, answer) == (200, {"case_no": "AJ2026000002", "received": "task_2-city", "duplicate": True})
        status, _, answer = await deliver(session, sink, "task_3-city", task_body(3))
        assert answer["case_no"] == "AJ2026000003"
        # one id is one task: another body under it is the sender's bug, and the case stays as it was
        status, _, answer = await deliver(session, sink, "task_1-city", task_body(1, summary="changed"))
        assert (status, answer["error"]["code"]) == (422, "id_reused_with_another_body")
    lines = [json.loads(line) for line in data.read_text().splitlines()]
    assert [(r["id"], r["case_no"]) for r in lines] == [
        ("task_1-city", "AJ2026000001"), ("task_2-city", "AJ2026000002"), ("task_3-city", "AJ2026000003")]
    assert {"id", "timestamp", "received_at", "headers", "body"} <= set(lines[0])


async def test_a_record_cut_short_by_a_crash_is_dropped_and_the_file_stays_readable(tmp_path: Path) -> None:
    data = tmp_path / "sink.jsonl"
    async with running(data_path=data) as sink, client() as session:
        await deliver(session, sink, "task_1", task_body(1))
    data.write_bytes(data.read_bytes() + b'{"id":"task_2","timest')  # killed mid-write, before answering
    async with running(data_path=data) as sink, client() as session:
        assert [r.id for r in sink.receipts] == ["task_1"]
        status, _, answer = await deliver(session, sink, "task_2", task_body(2))
        assert (status, answer["case_no"]) == (200, "AJ2026000002")
    async with running(data_path=data) as sink:
        assert [r.id for r in sink.receipts] == ["task_1", "task_2"]


@pytest.mark.parametrize(("content", "line"), [
    (b"not json\n{}\n", 1),
    (b'{"id": "x"}\n\n', 1),
    (b"[]\n", 1),
])
async def test_a_data_file_that_is_not_the_sinks_is_refused_by_line(tmp_path: Path, content: bytes,
                                                                    line: int) -> None:
    data = tmp_path / "sink.jsonl"
    data.write_bytes(content)
    with pytest.raises(SinkDataError, match=f"sink.jsonl:{line}: not a case-sink record"):
        async with running(data_path=data):
            pass


async def _statuses(sink: CaseSink, n: int) -> list[int]:
    async with client() as session:
        return [(await deliver(session, sink, f"task_{i}", task_body(i)))[0] for i in range(n)]


async def test_the_fail_rate_is_a_seeded_share_of_500s() -> None:
    async with running(fail_rate=0.5, seed=7) as a, running(fail_rate=0.5, seed=7) as b, \
            running(fail_rate=0.5, seed=8) as c:
        runs = [await _statuses(s, 32) for s in (a, b, c)]
        assert runs[0] == runs[1] != runs[2]
        assert set(runs[0]) == {200, 500}
        assert len(a.receipts) == runs[0].count(200) == a.counts["received"]
        assert a.counts["failed"] == runs[0].count(500)
    async with running(fail_rate=1.0) as sink:
        assert set(await _statuses(sink, 5)) == {500}
        assert sink.receipts == []


@pytest.mark.parametrize(("status", "retry_after", "header"), [
    (410, None, None),
    (429, None, "1"),
    (503, 30, "30"),
    (500, 3, "3"),
    (404, None, None),
])
async def test_a_forced_status_answers_every_delivery(status: int, retry_after: int | None,
                                                      header: str | None) -> None:
    async with running(status=status, retry_after_s=retry_after) as sink, client() as session:
        for headers in (None, {}):  # signed or not: a system that is gone does not look
            got, resp_headers, answer = await deliver(session, sink, "task_1", task_body(1), headers)
            assert (got, answer["error"]["code"]) == (status, "forced_status")
            assert resp_headers.get("Retry-After") == header
        assert sink.receipts == [] and sink.counts["failed"] == 2


async def test_a_stalled_answer_still_keeps_the_task_and_the_retry_is_a_duplicate() -> None:
    async with running(stall_s=1.5) as sink:
        async with client(timeout_s=0.2) as impatient:
            with pytest.raises(TimeoutError):
                await deliver(impatient, sink, "task_1", task_body(1))
        async with client() as session:
            for _ in range(100):  # the sink finishes the request the sender gave up on
                if sink.receipts:
                    break
                await asyncio.sleep(0.05)
            status, _, answer = await deliver(session, sink, "task_1", task_body(1))
        assert (status, answer) == (200, {"case_no": "AJ2026000001", "received": "task_1", "duplicate": True})
        assert sink.counts["duplicate"] == 1


async def test_a_stop_ends_a_stall_without_keeping_the_task() -> None:
    async with client() as session:
        sink = CaseSink([SECRET], stall_s=600, clock=Clock())
        await sink.start()
        pending = asyncio.ensure_future(deliver(session, sink, "task_1", task_body(1)))
        while sink.in_flight == 0:
            await asyncio.sleep(0.01)
        await sink.stop()
        status, _, answer = await pending
        assert (status, answer["error"]["code"]) == (503, "stopping")
        assert sink.receipts == []


async def test_down_until_refuses_connections_then_listens() -> None:
    clock = Clock()
    port = free_port()
    async with running(port=port, clock=clock, down_until=datetime.fromtimestamp(T0 + 30, UTC)) as sink, \
            client() as session:
        assert not sink.listening
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get(f"http://127.0.0.1:{port}/healthz")
        clock.t = T0 + 30
        await asyncio.wait_for(sink.wait_listening(), 30)
        status, _, answer = await deliver(session, sink, "task_1", task_body(1))
        assert (status, answer["case_no"]) == (200, "AJ2026000001")
    async with running(port=free_port(), down_until=datetime.fromtimestamp(T0 - 1, UTC)) as sink:
        assert sink.listening  # a time already past: up at once


async def test_a_port_taken_while_down_is_said_when_the_sink_would_open() -> None:
    clock = Clock()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with running(port=port, clock=clock, down_until=datetime.fromtimestamp(T0 + 5, UTC)) as sink:
            clock.t += 5
            with pytest.raises(SinkListenError, match=f"cannot listen on 127.0.0.1:{port}"):
                await asyncio.wait_for(sink.wait_listening(), 30)
            assert not sink.listening


async def test_the_listing_health_and_metrics_show_what_arrived() -> None:
    body = task_body(1, summary="<script>alert(1)</script> 占道经营")
    async with running() as sink, client() as session:
        await deliver(session, sink, "task_1", body)
        await deliver(session, sink, "task_1", body)
        await deliver(session, sink, "task_2", body, {})
        async with session.get(sink.url + "/") as resp:
            listing = await resp.json()
        assert listing["count"] == 1
        [item] = listing["items"]
        assert (item["id"], item["case_no"], item["timestamp"]) == ("task_1", "AJ2026000001", T0)
        assert json.loads(item["body"])["summary"].endswith("占道经营")
        async with session.get(sink.url + "/", headers={"Accept": "text/html,*/*"}) as resp:
            page = await resp.text()
        assert resp.content_type == "text/html"
        assert "AJ2026000001" in page and "&lt;script&gt;" in page and "<script>" not in page
        async with session.get(sink.url + "/healthz") as resp:
            health = await resp.json()
        assert {k: health[k] for k in ("stored", "received", "duplicate", "refused")} == {
            "stored": 1, "received": 1, "duplicate": 1, "refused": 1}
        async with session.get(sink.url + "/metrics") as resp:
            metrics = await resp.text()
        for outcome, n in (("received", 1), ("duplicate", 1), ("refused", 1), ("failed", 0)):
            assert f'enforcegw_case_sink_requests_total{{outcome="{outcome}"}} {n}.0' in metrics


@asynccontextmanager
async def ack_receiver(secret: WebhookSecret) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in for the gateway's ack route: checks the signature with ours and with the package."""
    seen: list[dict[str, Any]] = []

    async def ack(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            v = verify([secret], request.headers, body, now=datetime.now(UTC).timestamp())
        except Exception as exc:
            return web.json_response({"error": {"code": getattr(exc, "code", "?")}}, status=401)
        Webhook(secret.text()).verify(body.decode(), dict(request.headers), json_parse=False)
        seen.append({"task": request.match_info["task"], "msg_id": v.msg_id, "body": json.loads(body),
                     "idempotency_key": request.headers["Idempotency-Key"]})
        return web.json_response({"acknowledged": True})

    app = web.Application()
    app.router.add_post("/api/tasks/{task}/ack", ack)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/", seen
    finally:
        await runner.cleanup()


async def test_the_sink_acknowledges_a_case_signed_with_its_secret() -> None:
    sink = CaseSink([SECRET])  # the wall clock: the stand-in checks with the package, which reads it
    async with ack_receiver(SECRET) as (url, seen):
        first = await sink.ack(url, "T-2026/1", "AJ2026000001", delivery_id="task_1-city")
        again = await sink.ack(url, "T-2026/1", "AJ2026000001", delivery_id="task_1-city")
        assert (first.status, first.body) == (200, {"acknowledged": True})
        assert first.msg_id == again.msg_id and first.msg_id.startswith("ack_")
        assert seen[0] == {"task": "T-2026/1", "msg_id": first.msg_id, "idempotency_key": f'"{first.msg_id}"',
                           "body": {"task_id": "T-2026/1", "case_no": "AJ2026000001",
                                    "delivery_id": "task_1-city"}}
        other = await sink.ack(url, "T-2026/1", "AJ2026000002")
        assert other.msg_id != first.msg_id
    async with ack_receiver(OTHER) as (url, seen):
        refused = await sink.ack(url, "T-2026/1", "AJ2026000001")
        assert (refused.status, refused.body) == (401, {"error": {"code": "no_matching_signature"}})
        assert seen == []
