"""Messages that once stopped or bent ingest: every one ends as a dead letter holding its own topic and bytes,
and the messages beside it are stored."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from structlog.testing import capture_logs

from gateway.app import make_parser
from gateway.config import Settings
from testkit.gateway_harness import Publisher, count, gateway_settings, register, started, wait_for
from testkit.ingest_writer_harness import WriterHarness

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
GOOD = ("enf/sensor/n1/reading", {"ts": T0.isoformat(), "seq": 1, "readings": {"LAeq": 50.0}})
HUGE = b'{"ts": "%s", "readings": {"LAeq": 50}, "note": %s}' % (T0.isoformat().encode(), b"7" * 4301)


def _osd(position_state: str) -> bytes:
    ms = int(T0.timestamp() * 1000)
    return ('{"timestamp": ' + str(ms) + ', "gateway": "dock-1", "data": {"latitude": 23.0, "longitude": 113.2, '
            '"position_state": {"quality": ' + position_state + "}}}").encode()


def _failing_parser(fail_on: str, exc: Exception) -> Callable:
    real = make_parser(Settings())

    def parse(topic: str, payload: bytes, received: datetime) -> tuple:
        if fail_on in topic:
            raise exc
        return real(topic, payload, received)

    return parse


def _store_refuses(field: str, value: object) -> Callable:
    """A parser that lets through a pose field the store cannot hold, as a parser gap would."""
    real = make_parser(Settings())

    def parse(topic: str, payload: bytes, received: datetime) -> tuple:
        kind, readings, poses, events = real(topic, payload, received)
        if "bad" in topic:
            poses = [replace(p, **{field: value}) for p in poses]
        return kind, readings, poses, events

    return parse


@pytest.mark.parametrize(("topic", "payload", "reason", "fragment"), [
    ("enf/sensor/n1/reading", HUGE, "number_too_long", "4301 digits"),
    ("thing/product/dock-1/osd", _osd('"\\u0000"'), "bad_string", "NUL"),
    ("thing/product/dock-1/osd", _osd('"\\ud800"'), "bad_string", "lone surrogate"),
])
def test_hostile_payload_is_refused_with_its_bytes(db_url: str, topic: str, payload: bytes, reason: str,
                                                   fragment: str) -> None:
    h = WriterHarness(db_url)
    try:
        h.batch((topic, payload), GOOD)
        assert h.rows("SELECT device_id, seq FROM readings") == [("n1", 1)]
        [(t, r, detail, p)] = h.dead()
        assert (t, r, p) == (topic, reason, payload) and fragment in detail
    finally:
        h.close()


def test_a_parser_bug_costs_one_message_and_is_logged_once(db_url: str) -> None:
    h = WriterHarness(db_url, _failing_parser("boom", RuntimeError("parser bug")))
    try:
        with capture_logs() as logs:
            h.batch(("enf/sensor/boom/reading", b"{}"), GOOD, ("enf/sensor/boom/reading", b"[1]"))
            h.batch(("enf/sensor/boom/reading", b"{}"))
        assert h.rows("SELECT device_id FROM readings") == [("n1",)]
        dead = h.dead()
        assert [(t, r, p) for t, r, _d, p in dead] == [("enf/sensor/boom/reading", "parser_error", b)
                                                       for b in (b"{}", b"[1]", b"{}")]
        assert "RuntimeError" in dead[0][2] and "parser bug" in dead[0][2]
        assert h.counter("enforcegw_dead_letters_total", reason="parser_error") == 3
        logged = [e for e in logs if e["event"].startswith("ingest.parser_error")]
        assert len(logged) == 1 and logged[0]["exc_info"] is not None
        assert len(h.acked) == 4, "acknowledged: the broker must not redeliver them forever"
    finally:
        h.close()


@pytest.mark.parametrize(("field", "value"), [
    ("extra", {"position_state": {"quality": "a\x00b"}}),  # jsonb refuses \u0000 (server side)
    ("extra", {"q": "\ud800"}),  # jsonb refuses a lone surrogate escape
    ("gateway_sn", "dock\ud800"),  # psycopg cannot encode it (client side)
    ("source", "nul\x00"),
])
def test_a_row_the_store_refuses_is_a_dead_letter_with_the_message_bytes(db_url: str, field: str,
                                                                          value: object) -> None:
    h = WriterHarness(db_url, _store_refuses(field, value))
    bad = ("enf/drone/bad/pose", {"ts": T0.isoformat(), "lat": 23.0, "lon": 113.2})
    ok = ("enf/drone/ok/pose", {"ts": T0.isoformat(), "lat": 23.1, "lon": 113.2})
    try:
        taken = h.batch(GOOD, bad, ok, ("enf/sensor/n1/reading", b"not json"))
        assert h.rows("SELECT device_id FROM poses") == [("ok",)]
        assert h.rows("SELECT device_id FROM readings") == [("n1",)]
        dead = h.dead()
        assert sorted((t, r, p) for t, r, _d, p in dead) == sorted([
            ("enf/drone/bad/pose", "store_rejected", taken[1].payload),
            ("enf/sensor/n1/reading", "invalid_json", b"not json")])
        assert h.counter("enforcegw_dead_letters_total", reason="store_rejected") == 1
        assert [p.device_id for _r, ps in h.hooked for p in ps] == ["ok"]
    finally:
        h.close()


@pytest.mark.integration
async def test_a_4301_digit_number_over_mqtt_is_a_dead_letter_and_ingest_goes_on(
        tmp_path: Path, db_url: str, private_mosquitto: str) -> None:
    register(db_url, "n1")
    gw = await started(gateway_settings(tmp_path, db_url, private_mosquitto))
    pub = Publisher(private_mosquitto)
    try:
        pub.publish_all([("enf/sensor/n1/reading", HUGE)])
        pub.publish_all([GOOD])
        await wait_for(lambda: count(db_url, "SELECT count(*) FROM readings") == 1, what="the valid reading")
        await wait_for(lambda: count(db_url, "SELECT count(*) FROM dead_letters") == 1, what="the dead letter")
        assert count(db_url, "SELECT count(*) FROM dead_letters WHERE reason = 'number_too_long'"
                             " AND topic = 'enf/sensor/n1/reading' AND payload = %s", HUGE) == 1
        assert gw.writer is not None and gw.writer.alive()
        assert gw.metrics.registry.get_sample_value("enforcegw_worker_failures_total",
                                                    {"worker": "ingest-writer"}) in (None, 0.0)
        pub.publish_all([("enf/sensor/n1/reading", json.dumps({**GOOD[1], "seq": 2}))])
        await wait_for(lambda: count(db_url, "SELECT count(*) FROM readings") == 2, what="a later reading")
    finally:
        pub.close()
        await gw.stop()


def test_a_registry_lookup_on_a_dropped_connection_waits_for_the_store(db_url: str) -> None:
    register(db_url, "n1")
    h = WriterHarness(db_url, accept_unknown=False)
    try:
        h.batch(GOOD)
        register(db_url, "n2")  # not in the writer's cache yet: its first message is looked up in the store
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (h.writer._conn.info.backend_pid,))
        h.batch(("enf/sensor/n2/reading", {**GOOD[1], "seq": 2}))
        assert h.rows("SELECT device_id FROM readings ORDER BY seq") == [("n1",), ("n2",)]
        assert h.counter("enforcegw_store_errors_total") >= 1
    finally:
        h.close()


def test_an_event_that_is_not_json_is_a_dead_letter_with_its_bytes(db_url: str) -> None:
    real = make_parser(Settings())

    def parse(topic: str, payload: bytes, received: datetime) -> tuple:
        kind, readings, poses, events = real(topic, payload, received)
        return kind, readings, poses, [replace(e, payload={"x": float("nan")}) for e in events]

    h = WriterHarness(db_url, parse)
    try:
        taken = h.batch(("enf/device/cam-1/status", "online"), GOOD)
        assert h.rows("SELECT count(*) FROM device_events") == [(0,)]
        assert h.rows("SELECT device_id FROM readings") == [("n1",)]
        assert [(t, r, p) for t, r, _d, p in h.dead()] == [("enf/device/cam-1/status", "store_rejected",
                                                            taken[0].payload)]
    finally:
        h.close()
