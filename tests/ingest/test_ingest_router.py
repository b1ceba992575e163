"""Topic routing and parse_message (ingest/router.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.decode import ParseLimits
from ingest.dji.events import DjiDrcRecord, DjiEvent
from ingest.dji.state import DjiDeviceState, DockStateMerger
from ingest.models import PayloadError
from ingest.router import DeviceStatus, Route, Router, parse_message

SAMPLES = Path(__file__).resolve().parents[2] / "../shared/samples/dji_cloud_api"
RECV = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "topic, route",
    [
        ("enf/sensor/noise-01/reading", Route("sensor", "noise-01", "enf/sensor/noise-01/reading")),
        ("enf/drone/M30T_1/pose", Route("pose", "M30T_1", "enf/drone/M30T_1/pose")),
        ("enf/device/cam:7/status", Route("device_status", "cam:7", "enf/device/cam:7/status")),
        ("thing/product/1581F5B/osd", Route("dji_osd", "1581F5B", "thing/product/1581F5B/osd", "osd")),
        ("thing/product/1581F5B/state", Route("dji_osd", "1581F5B", "thing/product/1581F5B/state", "state")),
        ("thing/product/DOCK1/drc/up", Route("dji_drc", "DOCK1", "thing/product/DOCK1/drc/up")),
        ("thing/product/DOCK1/events", Route("dji_event", "DOCK1", "thing/product/DOCK1/events")),
        ("sys/product/DOCK1/status", Route("dji_status", "DOCK1", "sys/product/DOCK1/status")),
    ],
)
def test_default_routes(topic, route):
    assert Router().resolve(topic) == route


@pytest.mark.parametrize(
    "topic",
    [
        "enf/sensor/a/b/reading",
        "enf/sensor/reading",
        "enf/sensor//reading",  # empty id: no route has an empty segment
        "thing/product/X/drc/down",
        "thing/product/X/services_reply",
        "sys/product/X/status_reply",
        "enf/alerts/new",
        "",
        "/enf/sensor/a/reading",
        "enf/sensor/a/reading/",
    ],
)
def test_unknown_topics(topic):
    with pytest.raises(PayloadError) as ei:
        Router().resolve(topic)
    assert ei.value.reason in ("unknown_topic", "bad_device_id")
    if topic != "enf/sensor//reading":
        assert ei.value.reason == "unknown_topic"


@pytest.mark.parametrize("dev", ["", "a b", "x" * 65, "é", "a+b", "a#", "a$b"])
def test_bad_device_ids(dev):
    with pytest.raises(PayloadError) as ei:
        Router().resolve(f"enf/sensor/{dev}/reading")
    assert ei.value.reason == "bad_device_id"
    assert "[A-Za-z0-9_.:-]{1,64}" in ei.value.detail


def test_configurable_prefixes():
    r = Router(sensor_prefix="site1/env/sensor", dji_thing_prefix="dji/thing")
    assert r.resolve("site1/env/sensor/n1/reading") == Route("sensor", "n1", "site1/env/sensor/n1/reading")
    assert r.resolve("dji/thing/SN1/drc/up").kind == "dji_drc"
    with pytest.raises(PayloadError) as ei:
        r.resolve("enf/sensor/n1/reading")
    assert ei.value.reason == "unknown_topic"
    with pytest.raises(ValueError):
        Router(sensor_prefix="enf/+/x")


def test_parse_message_sensor():
    pm = parse_message(
        "enf/sensor/noise-01/reading", b'{"ts": "2025-06-01T11:59:00Z", "seq": 3, "readings": {"LAeq": 72.4}}', RECV
    )
    assert pm.kind == "sensor" and pm.poses == [] and pm.records == []
    (r,) = pm.readings
    assert (r.device_id, r.metric, r.value, r.seq, r.topic) == (
        "noise-01",
        "LAeq",
        72.4,
        3,
        "enf/sensor/noise-01/reading",
    )


def test_parse_message_limits_are_applied():
    limits = ParseLimits(max_bytes=10, max_future_skew_s=0)
    with pytest.raises(PayloadError) as ei:
        parse_message("enf/sensor/a/reading", b'{"ts": 1748779140, "readings": {"a": 1}}', RECV, limits)
    assert ei.value.reason == "oversize"
    with pytest.raises(PayloadError) as ei:
        parse_message("enf/drone/a/pose", b'{"ts": "2025-06-01T12:00:01Z"}', RECV, ParseLimits(max_future_skew_s=0))
    assert ei.value.reason == "future_timestamp"


def test_parse_message_pose():
    pm = parse_message("enf/drone/d1/pose", b'{"ts": 1748779140000, "lat": 23.1, "lon": 113.3}', RECV)
    assert pm.kind == "pose" and len(pm.poses) == 1 and pm.poses[0].lat == 23.1


@pytest.mark.parametrize(
    "payload, online, source",
    [
        (b"online", True, "received_at"),
        (b" offline\n", False, "received_at"),
        (b'"online"', True, "received_at"),
        (b'{"status": "offline", "ts": "2025-06-01T11:00:00Z"}', False, "payload"),
    ],
)
def test_device_status(payload, online, source):
    pm = parse_message("enf/device/cam1/status", payload, RECV)
    (st_,) = pm.records
    assert isinstance(st_, DeviceStatus) and st_.online is online and st_.time_source == source
    assert st_.time == (RECV if source == "received_at" else datetime(2025, 6, 1, 11, tzinfo=UTC))


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"maybe", "invalid_json"),
        (b'{"status": "sleeping"}', "bad_value"),
        (b"[1]", "not_an_object"),
        (b'{"ts": 1748779140}', "missing_field"),
        (b'{"status": 1}', "wrong_type"),
    ],
)
def test_device_status_errors(payload, reason):
    with pytest.raises(PayloadError) as ei:
        parse_message("enf/device/cam1/status", payload, RECV)
    assert ei.value.reason == reason


def test_parse_message_dji_flow_with_merger():
    if not SAMPLES.is_dir():
        pytest.skip("shared samples not mounted")
    merger = DockStateMerger()
    dock_msgs = json.loads((SAMPLES / "dock2_osd.json").read_text())
    out = [parse_message("thing/product/dock_sn/osd", json.dumps(m).encode(), RECV, merger=merger) for m in dock_msgs]
    assert [len(o.poses) for o in out] == [0, 0, 1]
    assert all(isinstance(o.records[0], DjiDeviceState) for o in out)
    assert out[2].records[0].merged["job_number"] == 492

    air = (SAMPLES / "aircraft_osd_dock2.json").read_bytes()
    pm = parse_message("thing/product/1581F5BKD225D00BP891/osd", air, RECV, merger=merger)
    assert pm.poses[0].device_id == "1581F5BKD225D00BP891" and not pm.poses[0].has_fix

    drc = (SAMPLES / "drc_up_osd_info_push.json").read_bytes()
    pm = parse_message("thing/product/dock_sn/drc/up", drc, RECV, merger=merger)
    assert pm.poses[0].device_id == "1581F5BKD225D00BP891"  # from the dock's sub_device
    hsi = (SAMPLES / "drc_up_hsi_info_push.json").read_bytes()
    assert isinstance(parse_message("thing/product/dock_sn/drc/up", hsi, RECV).records[0], DjiDrcRecord)

    ev = (SAMPLES / "events_hms.json").read_bytes()
    assert isinstance(parse_message("thing/product/dock_sn/events", ev, RECV).records[0], DjiEvent)
    with pytest.raises(PayloadError) as ei:
        parse_message("thing/product/dock_sn/events", (SAMPLES / "events_airsense_warning.json").read_bytes(), RECV)
    assert ei.value.reason == "bad_timestamp"


TOPICS = [
    "enf/sensor/s1/reading",
    "enf/drone/d1/pose",
    "enf/device/c1/status",
    "thing/product/A1/osd",
    "thing/product/A1/state",
    "thing/product/G1/drc/up",
    "thing/product/G1/events",
    "sys/product/G1/status",
]


@settings(max_examples=400, deadline=None)
@given(topic=st.sampled_from(TOPICS), data=st.binary(max_size=400))
def test_arbitrary_bytes_on_every_route_only_raise_payload_error(topic, data):
    try:
        parse_message(topic, data, RECV, ParseLimits(max_bytes=300), merger=DockStateMerger())
    except PayloadError as e:
        assert e.reason and e.detail


json_leaf = st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8)
json_values = st.recursive(
    json_leaf,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=25,
)
dji_keys = st.sampled_from(
    [
        "latitude",
        "longitude",
        "height",
        "elevation",
        "attitude_head",
        "mode_code",
        "52-0-0",
        "battery",
        "position_state",
        "sub_device",
        "sub_devices",
        "method",
        "x",
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    topic=st.sampled_from(TOPICS),
    ts=st.one_of(st.just(1748779140000), json_leaf),
    method=st.one_of(st.none(), st.sampled_from(["osd_info_push", "update_topo", "hms", "x"]), json_leaf),
    data=st.one_of(st.dictionaries(dji_keys, json_values, max_size=6), json_values),
    gateway=st.one_of(st.none(), st.just("A1"), st.just("G1"), json_leaf),
)
def test_structured_garbage_only_raises_payload_error(topic, ts, method, data, gateway):
    env = {"timestamp": ts, "data": data, "tid": "t", "bid": "b"}
    if method is not None:
        env["method"] = method
    if gateway is not None:
        env["gateway"] = gateway
    try:
        pm = parse_message(topic, json.dumps(env).encode(), RECV, merger=DockStateMerger())
    except PayloadError as e:
        assert e.reason
    else:
        for p in pm.poses:  # whatever is accepted is storable
            json.dumps(p.extra, allow_nan=False)
            assert p.lat is None or -90 <= p.lat <= 90
