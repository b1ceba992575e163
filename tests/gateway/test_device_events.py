"""Device status, DJI events and topology are stored (once per redelivery) and keep each device's online state
and last seen, through the ingest writer on a real PostgreSQL; `enforcegw devices list` shows them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from gateway.cli import main
from testkit.gateway_harness import register
from testkit.ingest_writer_harness import WriterHarness

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def status(device: str, online: bool, t: datetime | None = None) -> tuple[str, str | dict]:
    if t is None:  # a last will: no clock of its own
        return f"enf/device/{device}/status", "online" if online else "offline"
    return f"enf/device/{device}/status", {"status": "online" if online else "offline", "ts": t.isoformat()}


def topo(gateway: str, t: datetime, *subs: str) -> tuple[str, dict]:
    return f"sys/product/{gateway}/status", {
        "tid": "t", "bid": "b", "timestamp": int(t.timestamp() * 1000), "method": "update_topo",
        "data": {"type": 119, "sub_type": 0, "device_secret": "secret", "nonce": "n", "thing_version": "1.1.2",
                 "sub_devices": [{"sn": s, "type": 91, "sub_type": 0, "index": "A", "device_secret": "x"}
                                 for s in subs]}}


def dji_event(gateway: str, t: datetime, method: str, data: dict) -> tuple[str, dict]:
    return f"thing/product/{gateway}/events", {"tid": "t1", "bid": "b1", "timestamp": int(t.timestamp() * 1000),
                                               "method": method, "data": data, "need_reply": 0}


def reading(device: str, t: datetime, seq: int) -> tuple[str, dict]:
    return f"enf/sensor/{device}/reading", {"ts": t.isoformat(), "seq": seq, "readings": {"LAeq": 50.0}}


@pytest.fixture
def h(db_url: str) -> Iterator[WriterHarness]:
    harness = WriterHarness(db_url)
    yield harness
    harness.close()


def state(h: WriterHarness, device: str) -> tuple | None:
    rows = h.rows("SELECT online, online_changed_at, last_seen_at, via_gateway FROM device_state"
                  " WHERE device_id = %s", device)
    return rows[0] if rows else None


def test_status_reports_are_events_and_move_online_state_forward(h: WriterHarness) -> None:
    h.batch(status("cam-1", True, at(0)))
    h.batch(status("cam-1", True, at(5)))  # still online: the change time stays
    assert state(h, "cam-1")[:2] == (True, at(0))
    h.batch(status("cam-1", False, at(10)), status("cam-1", True, at(7)))  # one batch, reordered
    assert state(h, "cam-1")[:2] == (False, at(10))
    h.batch(status("cam-1", True, at(8)))  # late: older than the offline report already applied
    assert state(h, "cam-1")[:2] == (False, at(10))
    events = h.rows("SELECT time, kind, payload, topic FROM device_events ORDER BY time")
    assert [(t, k, p["status"]) for t, k, p, _topic in events] == [
        (at(0), "status", "online"), (at(5), "status", "online"), (at(7), "status", "online"),
        (at(8), "status", "online"), (at(10), "status", "offline")]
    assert {topic for *_x, topic in events} == {"enf/device/cam-1/status"}
    assert state(h, "cam-1")[2] == at(8), "last seen: the newest report of it being there"


def test_a_redelivered_event_is_stored_once(h: WriterHarness) -> None:
    msg = dji_event("dock-1", at(1), "hms", {"list": [{"level": 2, "code": "0x16100083", "module": 3}]})
    h.batch(msg, msg)
    h.batch(msg)
    rows = h.rows("SELECT device_id, kind, payload FROM device_events")
    assert rows == [("dock-1", "event", {"method": "hms", "data": msg[1]["data"], "tid": "t1", "bid": "b1",
                                         "need_reply": 0})]
    assert h.counter("enforcegw_device_events_stored_total") == 1
    assert h.counter("enforcegw_device_events_duplicate_total") == 2
    assert len(h.acked) == 3


def test_a_last_will_without_clock_takes_the_receipt_time(h: WriterHarness) -> None:
    [taken] = h.batch(status("cam-2", False))
    online, changed, seen, _via = state(h, "cam-2")
    assert online is False and changed == datetime.fromtimestamp(taken.received_at, UTC)
    assert seen is None, "a last will published by the broker is not a sighting"
    assert h.rows("SELECT payload FROM device_events") == [({"status": "offline", "time_source": "received_at"},)]


def test_topology_attaches_and_detaches_the_aircraft(h: WriterHarness) -> None:
    h.batch(topo("dock-1", at(0), "uav-1"))
    assert state(h, "dock-1")[:2] == (True, at(0))
    assert state(h, "uav-1") == (True, at(0), None, "dock-1")
    h.batch(topo("dock-1", at(60)))  # empty sub_devices: the aircraft went offline
    assert state(h, "uav-1")[:2] == (False, at(60))
    assert state(h, "dock-1")[:2] == (True, at(0))
    h.batch(topo("dock-1", at(30), "uav-1"))  # a late copy of an older topology changes nothing
    assert state(h, "uav-1")[:2] == (False, at(60))
    payloads = [p for (p,) in h.rows("SELECT payload FROM device_events WHERE kind = 'topology' ORDER BY time")]
    assert [[s["sn"] for s in p["sub_devices"]] for p in payloads] == [["uav-1"], ["uav-1"], []]
    assert "secret" not in json.dumps(payloads), "credentials are never stored"


def test_last_seen_comes_from_readings_and_only_grows(h: WriterHarness) -> None:
    h.batch(reading("n1", at(10), 1), reading("n1", at(20), 2), reading("n2", at(5), 1))
    assert state(h, "n1") == (None, None, at(20), None)
    assert state(h, "n2")[2] == at(5)
    h.batch(reading("n1", at(15), 3))  # a replayed backlog does not move it back
    assert state(h, "n1")[2] == at(20)


def test_events_of_unregistered_devices_are_dead_letters(db_url: str) -> None:
    register(db_url, "cam-9", kind="camera")
    h = WriterHarness(db_url, accept_unknown=False)
    try:
        h.batch(status("cam-9", True, at(0)), status("cam-x", True, at(0)))
        assert h.rows("SELECT device_id FROM device_events") == [("cam-9",)]
        assert [(t, r) for t, r, _d, _p in h.dead()] == [("enf/device/cam-x/status", "unknown_device")]
    finally:
        h.close()


def test_devices_list_shows_online_state_and_last_seen(tmp_path: Path, db_url: str, h: WriterHarness,
                                                       capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    register(db_url, "n1", "cam-1", "n3")
    h.batch(reading("n1", at(10), 1), status("cam-1", True, at(3)), status("cam-1", False, at(4)))
    monkeypatch.setenv("ENFORCEGW_DATABASE__URL", db_url)
    monkeypatch.setenv("ENFORCEGW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["devices", "list"]) == 0
    lines = {line.split()[1]: line for line in capsys.readouterr().out.splitlines() if line.startswith("│ ")}
    fmt = "%Y-%m-%d %H:%M:%SZ"
    assert f"offline since {at(4).strftime(fmt)}" in lines["cam-1"]
    assert lines["n1"].rstrip(" │").endswith(at(10).strftime(fmt))
    assert "online" not in lines["n3"] and lines["n3"].rstrip(" │").endswith("-")
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM device_state WHERE device_id = 'n3'").fetchone() == (0,)
