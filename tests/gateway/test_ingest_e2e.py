"""End to end: MQTT publish -> gateway -> rows in PostgreSQL, on a real Mosquitto and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import psycopg
import pytest

from testkit.gateway_harness import Publisher, count, gateway_settings, register, started, stream, wait_for

pytestmark = pytest.mark.integration


# Both ways of receiving MQTT: paho in the gateway's process, and paho in a child process (mqtt.receive_process).
RECEIVERS = pytest.mark.parametrize("receive_process", [False, True], ids=["in-process", "child-process"])


@RECEIVERS
async def test_readings_are_stored_exactly_once(tmp_path: Path, db_url: str, private_mosquitto: str,
                                                receive_process: bool) -> None:
    register(db_url, "noise-1")
    gw = await started(gateway_settings(tmp_path, db_url, private_mosquitto,
                                        mqtt={"receive_process": receive_process}))
    pub = Publisher(private_mosquitto)
    try:
        msgs = stream("noise-1", 300)
        pub.publish_all(msgs + msgs[:100])  # a publisher retry of the first 100
        await wait_for(lambda: count(db_url, "SELECT count(*) FROM readings") >= 300, what="300 readings")
        await wait_for(lambda: gw.metrics.readings_duplicate._value.get() >= 100, what="duplicates counted")
        assert count(db_url, "SELECT count(*) FROM readings") == 300
        assert count(db_url, "SELECT count(DISTINCT seq) FROM readings") == 300
    finally:
        pub.close()
        await gw.stop()


async def test_readings_without_seq_deduplicate_on_time(tmp_path: Path, db_url: str, private_mosquitto: str) -> None:
    register(db_url, "pm-1")
    gw = await started(gateway_settings(tmp_path, db_url, private_mosquitto))
    pub = Publisher(private_mosquitto)
    try:
        body = {"ts": "2026-11-01T10:00:00+08:00", "readings": {"PM10": 118, "PM2.5": 60.5}}
        pub.publish_all([("enf/sensor/pm-1/reading", body)] * 3)
        await wait_for(lambda: gw.metrics.readings_duplicate._value.get() >= 4, what="duplicates")
        assert count(db_url, "SELECT count(*) FROM readings WHERE device_id = 'pm-1'") == 2
    finally:
        pub.close()
        await gw.stop()


@RECEIVERS
async def test_restart_mid_stream_loses_and_duplicates_nothing(
    tmp_path: Path, db_url: str, private_mosquitto: str, receive_process: bool
) -> None:
    register(db_url, "noise-2")
    settings = gateway_settings(tmp_path, db_url, private_mosquitto, mqtt={"receive_process": receive_process})
    msgs = stream("noise-2", 3000)
    gw = await started(settings)
    pub = Publisher(private_mosquitto)
    try:
        publishing = asyncio.create_task(asyncio.to_thread(_publish_slowly, pub, msgs))
        await wait_for(lambda: count(db_url, "SELECT count(*) FROM readings") >= 500, what="first readings")
        await gw.stop()  # the gateway goes down while the stream goes on
        stored_at_stop = count(db_url, "SELECT count(*) FROM readings")
        await asyncio.sleep(0.5)
        gw = await started(settings)  # same client id: the broker kept the session and the backlog
        await publishing
        await wait_for(lambda: count(db_url, "SELECT count(*) FROM readings") >= 3000, 60, "all readings")
        await asyncio.sleep(0.3)
        assert stored_at_stop < 3000, "the restart did not happen mid-stream"
        assert count(db_url, "SELECT count(*) FROM readings") == 3000
        assert count(db_url, "SELECT count(DISTINCT seq) FROM readings") == 3000
    finally:
        pub.close()
        await gw.stop()


def _publish_slowly(pub: Publisher, msgs: list) -> None:
    for i in range(0, len(msgs), 100):
        pub.publish_all(msgs[i : i + 100])
        time.sleep(0.02)


MALFORMED = [
    (b"{not json", "invalid_json"),
    (b"[1, 2]", "not_an_object"),
    (json.dumps({"ts": "2026-11-01T10:00:00Z"}).encode(), "missing_field"),
    (json.dumps({"ts": "2026-11-01T10:00:00Z", "readings": {"LAeq": "loud"}}).encode(), "wrong_type"),
    (json.dumps({"ts": "2026-11-01T10:00:00Z", "readings": {"LAeq": True}}).encode(), "wrong_type"),
    (b'{"ts": "2026-11-01T10:00:00Z", "readings": {"LAeq": NaN}}', "not_finite"),
    (b'{"ts": "2026-11-01T10:00:00Z", "readings": {"LAeq": Infinity}}', "not_finite"),
    (json.dumps({"ts": "2099-01-01T00:00:00Z", "readings": {"LAeq": 50}}).encode(), "future_timestamp"),
    (json.dumps({"ts": "2026-11-01 10:00:00", "readings": {"LAeq": 50}}).encode(), "bad_timestamp"),
    (json.dumps({"ts": "2026-11-01T10:00:00Z", "readings": {"LAeq": 50}, "pad": "x" * 70000}).encode(), "oversize"),
]


async def test_malformed_payloads_go_to_dead_letters_and_valid_ones_survive(
    tmp_path: Path, db_url: str, private_mosquitto: str
) -> None:
    register(db_url, "noise-3")
    gw = await started(gateway_settings(tmp_path, db_url, private_mosquitto))
    pub = Publisher(private_mosquitto)
    try:
        good = stream("noise-3", len(MALFORMED) + 1)
        interleaved: list = []
        for i, (payload, _reason) in enumerate(MALFORMED):
            interleaved += [good[i], ("enf/sensor/noise-3/reading", payload)]
        interleaved += [good[-1], stream("ghost-9", 1)[0]]  # a device not in the registry
        pub.publish_all(interleaved)
        expected = len(MALFORMED) + 1
        await wait_for(lambda: count(db_url, "SELECT count(*) FROM dead_letters") >= expected, what="dead letters")
        await wait_for(lambda: count(db_url, "SELECT count(*) FROM readings") >= len(good), what="good readings")
        with psycopg.connect(db_url) as conn:
            rows = conn.execute("SELECT reason, payload, detail FROM dead_letters ORDER BY id").fetchall()
        assert [r[0] for r in rows] == [reason for _p, reason in MALFORMED] + ["unknown_device"]
        assert [bytes(r[1]) for r in rows[:-1]] == [p for p, _r in MALFORMED], "payload kept byte for byte"
        assert all(r[2] for r in rows), "every dead letter says why"
        assert count(db_url, "SELECT count(*) FROM readings WHERE device_id = 'noise-3'") == len(good)
        assert gw.metrics.dead_letters.labels("not_finite")._value.get() == 2
    finally:
        pub.close()
        await gw.stop()


async def test_health_and_metrics_endpoints(tmp_path: Path, db_url: str, private_mosquitto: str) -> None:
    register(db_url, "noise-4")
    gw = await started(gateway_settings(tmp_path, db_url, private_mosquitto))
    pub = Publisher(private_mosquitto)
    try:
        pub.publish_all(stream("noise-4", 10))
        await wait_for(lambda: count(db_url, "SELECT count(*) FROM readings") >= 10, what="readings")
        base = f"http://127.0.0.1:{gw.http.port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as resp:
                body = await resp.json()
                assert resp.status == 200, body
                assert body["checks"]["store"]["ok"] and body["checks"]["mqtt"]["ok"]
            async with http.get(f"{base}/metrics") as resp:
                text = await resp.text()
        assert "enforcegw_readings_stored_total 10.0" in text
        assert "enforcegw_flush_seconds_bucket" in text
        assert "enforcegw_ingest_queue_depth" in text
    finally:
        pub.close()
        await gw.stop()
