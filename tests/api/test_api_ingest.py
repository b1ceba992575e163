"""HTTP ingest on a real gateway with real device tokens: answered after commit, a retry answered as a
duplicate and stored once, refusals dead-lettered with the exact bytes as over MQTT, cross-device and
non-device callers refused, oversize bodies not read to their end, a busy or stuck writer answered 503."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from api import ingest_http
from api.routes import ROLES
from gateway.config import IngestConfig
from ingest.mqtt import RawMessage
from testkit.alert_scenes import LEGAL, NOISE, alerts, levels, night_base, setup_site
from testkit.api_harness import ApiGateway, api_gateway
from testkit.gateway_harness import count, register, wait_for

pytestmark = pytest.mark.integration

PATH = "/api/ingest/readings"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
LIMIT = 1024


def reading(seq: int | None, value: float, t: datetime = T0, **extra: Any) -> bytes:
    doc: dict[str, Any] = {"ts": t.isoformat(), "readings": {"LAeq": value}, **extra}
    if seq is not None:
        doc["seq"] = seq
    return json.dumps(doc).encode()


def at_limit() -> bytes:
    """A valid reading exactly `LIMIT` bytes long."""
    base = reading(2, 50.0, pad="")
    return reading(2, 50.0, pad="x" * (LIMIT - len(base)))


async def post(api: ApiGateway, who: str | None, data: Any, **params: str) -> tuple[int, dict, dict[str, str]]:
    async with api.request("POST", PATH, who, data=data, params=params) as r:
        return r.status, await r.json(), dict(r.headers)


def dead_letters(api: ApiGateway) -> list[tuple[str, str, str, bytes]]:
    with psycopg.connect(api.db_url) as conn:
        return [(t, r, d, bytes(p)) for t, r, d, p in
                conn.execute("SELECT topic, reason, detail, payload FROM dead_letters ORDER BY id")]


@pytest.fixture
async def api(tmp_path: Path, db_url: str, mqtt_url: str) -> AsyncIterator[ApiGateway]:
    register(db_url, "dev-1", "dev-2")
    async with api_gateway(tmp_path, db_url, mqtt_url,
                           ingest=IngestConfig(batch_max_ms=50, max_payload_bytes=LIMIT, queue_max=100)) as api:
        for device in ("dev-1", "dev-2", "ghost-1"):
            api.tokens[device] = api.new_token("device", device)[1]
        yield api


@pytest.mark.parametrize("seq", [7, None], ids=["seq", "no-seq"])
async def test_stored_when_answered_and_a_retry_is_a_duplicate_stored_once(api: ApiGateway, seq: int | None) -> None:
    body = reading(seq, 61.5)
    status, out, _h = await post(api, "dev-1", body)
    assert (status, out) == (201, {"result": "stored", "device_id": "dev-1", "topic": "enf/sensor/dev-1/reading",
                                   "readings": 1})
    # committed before the answer: visible at once, no waiting
    assert count(api.db_url, "SELECT count(*) FROM readings WHERE device_id = 'dev-1' AND value = 61.5") == 1
    for _retry in range(2):
        status, out, _h = await post(api, "dev-1", body)
        assert (status, out["result"]) == (200, "duplicate")
    assert count(api.db_url, "SELECT count(*) FROM readings") == 1
    m = api.gw.metrics.registry.get_sample_value
    assert m("enforcegw_http_ingest_requests_total", {"result": "stored"}) == 1
    assert m("enforcegw_http_ingest_requests_total", {"result": "duplicate"}) == 2
    assert m("enforcegw_messages_received_total", {"kind": "sensor"}) == 3, "counted as MQTT messages are"
    assert m("enforcegw_readings_duplicate_total") == 2


# body, status, error code; each refused body is a dead letter holding exactly these bytes
REFUSED = [
    (b"{not json", 422, "invalid_json"),
    (b"", 422, "invalid_json"),
    (b'{"ts": "%s", "readings": {"LAeq": NaN}}' % T0.isoformat().encode(), 422, "not_finite"),
    (json.dumps({"ts": T0.isoformat(), "readings": {"LAeq": "loud"}}).encode(), 422, "wrong_type"),
    (json.dumps({"ts": "2099-01-01T00:00:00Z", "readings": {"LAeq": 50}}).encode(), 422, "future_timestamp"),
    (reading(1, 99.0), 409, "conflict"),  # seq 1 is stored with another value
    (at_limit(), 201, None),  # exactly at the limit: not oversize
]


@pytest.mark.parametrize(("body", "status", "code"), REFUSED, ids=[c or "at-limit" for _b, _s, c in REFUSED])
async def test_refused_input_is_dead_lettered_with_its_exact_bytes(api: ApiGateway, body: bytes, status: int,
                                                                   code: str | None) -> None:
    assert (await post(api, "dev-1", reading(1, 50.0)))[0] == 201
    got, out, _h = await post(api, "dev-1", body)
    assert got == status, out
    if code is None:
        assert dead_letters(api) == []
        return
    assert out["error"]["code"] == code and out["error"]["message"]
    ((topic, reason, detail, payload),) = dead_letters(api)
    assert (topic, reason, detail, payload) == ("enf/sensor/dev-1/reading", code, out["error"]["message"], body)
    assert api.gw.metrics.registry.get_sample_value("enforcegw_dead_letters_total", {"reason": code}) == 1
    assert count(api.db_url, "SELECT count(*) FROM readings") == 1, "only the first reading is stored"


async def test_a_device_not_in_the_registry_is_refused_as_over_mqtt(api: ApiGateway) -> None:
    body = reading(1, 50.0)
    status, out, _h = await post(api, "ghost-1", body)
    assert (status, out["error"]["code"]) == (422, "unknown_device") and "ghost-1" in out["error"]["message"]
    assert dead_letters(api) == [("enf/sensor/ghost-1/reading", "unknown_device", out["error"]["message"], body)]


@pytest.mark.parametrize(("params", "extra"), [
    ({"device_id": "dev-2"}, {}),
    ({}, {"device_id": "dev-2"}),
    ({"device_id": "dev-1"}, {"device_id": "dev-2"}),
], ids=["query", "body", "query-own-body-other"])
async def test_a_device_token_cannot_post_for_another_device(api: ApiGateway, params: dict[str, str],
                                                             extra: dict[str, str]) -> None:
    status, out, _h = await post(api, "dev-1", reading(1, 50.0, **extra), **params)
    assert (status, out["error"]["code"]) == (403, "wrong_device")
    assert "'dev-1'" in out["error"]["message"] and "'dev-2'" in out["error"]["message"]
    assert count(api.db_url, "SELECT count(*) FROM readings") == 0 and dead_letters(api) == []
    with psycopg.connect(api.db_url) as conn:
        rows = conn.execute("SELECT token_name, role, action, target, result, status FROM audit_log").fetchall()
    assert rows == [("dev-1", "device", f"POST {PATH}", "device:dev-2", "refused_wrong_device", 403)]
    # naming its own device is fine, in the query or in the body
    status, out, _h = await post(api, "dev-1", reading(1, 50.0, device_id="dev-1"), device_id="dev-1")
    assert (status, out["device_id"]) == (201, "dev-1")


async def test_only_device_tokens_may_post(api: ApiGateway) -> None:
    for who, status in [(None, 401), *((role, 403) for role in ROLES if role != "device")]:
        got, out, _h = await post(api, who, reading(1, 50.0))
        assert got == status, (who, out)
    # a device token whose name cannot be a device id (it would make another topic)
    status, out, _h = await post(api, api.new_token("device", "dev-1/x")[1], reading(1, 50.0))
    assert (status, out["error"]["code"]) == (403, "not_a_device_id")
    assert count(api.db_url, "SELECT count(*) FROM readings") == 0 and dead_letters(api) == []


async def _chunks(data: bytes, size: int = 256) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_an_oversize_body_is_refused_413_and_its_beginning_dead_lettered(api: ApiGateway,
                                                                               chunked: bool) -> None:
    body = reading(1, 50.0, pad="x" * 100 * LIMIT)
    status, out, _h = await post(api, "dev-1", _chunks(body) if chunked else body)
    assert (status, out["error"]["code"]) == (413, "oversize")
    ((topic, reason, detail, payload),) = dead_letters(api)
    assert (topic, reason, payload) == ("enf/sensor/dev-1/reading", "oversize", body[:LIMIT])
    assert detail == out["error"]["message"] and f"limit is {LIMIT}" in detail
    assert (str(len(body)) in detail) is not chunked, "the declared length is named when there is one"
    assert count(api.db_url, "SELECT count(*) FROM readings") == 0


async def test_a_busy_or_stuck_writer_answers_503_and_the_retry_is_recognised(api: ApiGateway,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_http, "REPLY_TIMEOUT_S", 0.5)
    writer = api.gw.writer
    assert writer is not None
    body = reading(1, 50.0)
    writer.healthy.clear()  # as the writer does while the store is unreachable
    status, out, headers = await post(api, "dev-1", body)
    assert (status, out["error"]["code"], headers.get("Retry-After")) == (503, "unavailable", "1")
    writer.healthy.set()
    with psycopg.connect(api.db_url) as lock:
        lock.execute("LOCK TABLE readings IN ACCESS EXCLUSIVE MODE")  # held until the block ends (rollback)
        status, out, headers = await post(api, "dev-1", body)
        assert (status, out["error"]["code"], headers.get("Retry-After")) == (503, "timeout", "1")
        assert "may still be stored" in out["error"]["message"]
        await wait_for(lambda: count(api.db_url, "SELECT count(*) FROM pg_locks WHERE NOT granted") > 0, 10,
                       "the writer waiting on the lock")
        filled = 0
        with pytest.raises(queue.Full):  # the writer is stuck: its queue fills
            while True:
                writer.submit(RawMessage("enf/sensor/dev-2/reading", reading(filled, 1.0), 0, 0, time.time()))
                filled += 1
        status, out, headers = await post(api, "dev-1", reading(2, 50.0))
        assert (status, out["error"]["code"], headers.get("Retry-After")) == (503, "queue_full", "1")
        lock.rollback()
    await wait_for(lambda: count(api.db_url, "SELECT count(*) FROM readings") == 1 + filled, 20, "the backlog")
    status, out, _h = await post(api, "dev-1", body)  # the timed-out request did commit: its retry says so
    assert (status, out["result"]) == (200, "duplicate")
    m = api.gw.metrics.registry.get_sample_value
    assert [m("enforcegw_http_ingest_requests_total", {"result": r})
            for r in ("unavailable", "timeout", "queue_full")] == [1, 1, 1]


async def test_readings_posted_over_http_open_an_alert(tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    setup_site(db_url, {**NOISE, **LEGAL})
    async with api_gateway(tmp_path, db_url, mqtt_url) as api:
        device = api.new_token("device", "noise-cs")[1]
        for topic, doc in levels("noise-cs", "LAeq", night_base(), [(22, 70.0)]):  # a full 20-min LAeq
            assert topic == "enf/sensor/noise-cs/reading"
            status, out, _h = await post(api, device, json.dumps(doc).encode())
            assert status == 201, out
        await wait_for(lambda: len(alerts(db_url)) == 1, 30, "the alert")
        (row,) = alerts(db_url)
        assert (row["device_id"], row["rule_id"], row["admissible"]) == ("noise-cs", "gb12523_2025.night.laeq", True)
