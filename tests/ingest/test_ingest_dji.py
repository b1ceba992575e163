"""DJI Cloud API adapter (ingest/dji.py) against DJI's published examples in shared/samples/dji_cloud_api."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.decode import ParseLimits
from ingest.dji.envelope import parse_dji_envelope
from ingest.dji.events import DjiDrcRecord, DjiEvent, parse_dji_drc, parse_dji_event, parse_dji_status
from ingest.dji.osd import parse_dji_osd
from ingest.dji.state import DjiTopology, DockStateMerger
from ingest.models import PayloadError, Pose

SAMPLES = Path(__file__).resolve().parents[2] / "../shared/samples/dji_cloud_api"
RECV = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
LIMITS = ParseLimits()
AIRCRAFT_SN = "1581F5BKD225D00BP891"


def load(name: str):
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"sample {path} not present (shared samples not mounted)")
    return json.loads(path.read_text())


def enc(obj) -> bytes:
    return json.dumps(obj).encode()


# Expected outcome for every file in the directory. Each entry: (topic kind, expected per message).
# Messages in array files are checked in order.
EXPECTED = {
    "aircraft_osd_dock2.json": ("osd", AIRCRAFT_SN, ["pose_no_fix"]),
    "dock2_osd.json": ("osd", "dock_sn", ["state", "state", "pose_fix"]),
    "drc_up_hsi_info_push.json": ("drc", "dock_sn", ["drc_record"]),
    "drc_up_osd_info_push.json": ("drc", "dock_sn", ["pose_fix"]),
    "events_airsense_warning.json": ("event", "dock_sn", ["bad_timestamp"]),
    "events_flighttask_progress.json": ("event", "dock_sn", ["event"]),
    "events_hms.json": ("event", "dock_sn", ["event"]),
    "events_return_home_info.json": ("event", "6QCDL820020041", ["event"]),
    # DJI's placeholder timestamp 1234567890123 is 2009-02-13: outside the plausible window -> rejected
    "status_update_topo.json": ("status", "dock_sn", ["bad_timestamp", "bad_timestamp"]),
}


def sample_files() -> list[str]:
    if not SAMPLES.is_dir():
        return ["<samples missing>"]
    return sorted(p.name for p in SAMPLES.iterdir() if p.suffix == ".json")


def run(kind: str, sn: str, payload: bytes, merger: DockStateMerger | None = None):
    if kind == "osd":
        return parse_dji_osd(sn, payload, RECV, LIMITS, merger=merger)
    if kind == "drc":
        return parse_dji_drc(sn, payload, RECV, LIMITS, merger=merger)
    if kind == "event":
        return parse_dji_event(sn, payload, RECV, LIMITS)
    return parse_dji_status(sn, payload, RECV, LIMITS, merger=merger)


@pytest.mark.parametrize("name", sample_files())
def test_every_sample_file_has_a_defined_outcome(name):
    if name == "<samples missing>":
        pytest.skip("shared samples not mounted")
    assert name in EXPECTED, f"new sample {name}: add its expected outcome"
    kind, sn, outcomes = EXPECTED[name]
    obj = load(name)
    messages = obj if isinstance(obj, list) else [obj]
    assert len(messages) == len(outcomes)
    merger = DockStateMerger()
    for msg, outcome in zip(messages, outcomes, strict=True):
        payload = enc(msg)
        if outcome == "bad_timestamp":
            with pytest.raises(PayloadError) as ei:
                run(kind, sn, payload, merger)
            assert ei.value.reason == "bad_timestamp"
            continue
        res = run(kind, sn, payload, merger)
        if outcome in ("pose_fix", "pose_no_fix"):
            pose = res if isinstance(res, Pose) else res.pose
            assert isinstance(pose, Pose)
            assert pose.has_fix is (outcome == "pose_fix")
        elif outcome == "state":
            assert res.pose is None and res.state.data == msg["data"]
        elif outcome == "drc_record":
            assert isinstance(res, DjiDrcRecord) and res.method == msg["method"]
        elif outcome == "event":
            assert isinstance(res, DjiEvent) and res.method == msg["method"] and res.data == msg["data"]
        else:  # pragma: no cover
            raise AssertionError(outcome)


# ---------------------------------------------------------------------------------------------------------
# aircraft OSD


def test_aircraft_osd_maps_fields_and_units():
    msg = load("aircraft_osd_dock2.json")
    res = parse_dji_osd(AIRCRAFT_SN, enc(msg), RECV, LIMITS)
    p = res.pose
    assert p.time == datetime(2022, 12, 7, 14, 19, 53, 916000, tzinfo=UTC)  # 1670422793916 ms
    assert p.device_id == AIRCRAFT_SN and p.gateway_sn == "dock_sn" and p.source == "dji_osd"
    assert p.alt_abs_m == pytest.approx(38.417465209960938)  # `height`, ellipsoidal
    assert p.alt_rel_m == 0.0  # `elevation`, above take-off
    assert p.yaw == pytest.approx(41.7)  # attitude_head
    assert p.pitch == pytest.approx(2.7)
    assert p.roll == 0.0
    # 52-0-0 carries no gimbal angles in this example
    assert (p.gimbal_yaw, p.gimbal_pitch, p.gimbal_roll) == (None, None, None)
    x = p.extra
    assert x["payload_index"] == "52-0-0"
    assert x["mode_code"] == 0 and x["battery_percent"] == 90.0
    assert x["position_state"] == {"gps_number": 0, "is_fixed": 0, "quality": 0, "rtk_number": 0}
    assert x["horizontal_speed"] == 0.0 and x["vertical_speed"] == 0.0 and x["wind_speed"] == 0.0
    assert x["laser"]["measure_target_distance"] == pytest.approx(591.70001220703125)
    assert x["laser"]["measure_target_error_state"] == 1
    assert x["laser"]["valid"] is False  # TOO_CLOSE, and target 0/0
    json.dumps(x, allow_nan=False)  # extras are storable JSON
    assert res.state.role == "aircraft"


def test_aircraft_in_dock_has_no_fix():
    p = parse_dji_osd(AIRCRAFT_SN, enc(load("aircraft_osd_dock2.json")), RECV, LIMITS).pose
    assert p.lat is None and p.lon is None and not p.has_fix
    assert p.extra["no_fix"] == "lat_lon_zero"


def test_aircraft_in_flight_with_gimbals_and_primary_payload_choice():
    msg = load("aircraft_osd_dock2.json")
    d = msg["data"]
    d.update(latitude=22.9081, longitude=113.7041, elevation=55.2, height=93.6, attitude_head=-170.5)
    d["39-0-7"] = {"gimbal_pitch": -45.0, "gimbal_roll": 0.0, "gimbal_yaw": 12.5, "payload_index": "39-0-7"}
    d["53-0-1"] = {"gimbal_pitch": -90.0, "gimbal_roll": 0.1, "gimbal_yaw": 13.0, "payload_index": "53-0-1"}
    d["52-0-0"].update(measure_target_error_state=0, measure_target_latitude=22.91, measure_target_longitude=113.705)
    msg["timestamp"] = 1748779140000
    p = parse_dji_osd(AIRCRAFT_SN, enc(msg), RECV, LIMITS).pose
    assert (p.lat, p.lon, p.alt_rel_m, p.alt_abs_m, p.yaw) == (22.9081, 113.7041, 55.2, 93.6, -170.5)
    assert "no_fix" not in p.extra
    # entries with gimbal angles win; then lowest gimbal index -> 53-0-1 (index 1) before 39-0-7 (index 7)
    assert p.extra["payload_index"] == "53-0-1"
    assert (p.gimbal_pitch, p.gimbal_roll, p.gimbal_yaw) == (-90.0, 0.1, 13.0)
    assert set(p.extra["payloads"]) == {"39-0-7", "52-0-0"}
    assert p.extra["payloads"]["39-0-7"]["gimbal_pitch"] == -45.0
    assert p.extra["payloads"]["52-0-0"]["laser"]["valid"] is True
    # key order in the JSON does not change the choice
    reordered = dict(reversed(list(d.items())))
    p2 = parse_dji_osd(AIRCRAFT_SN, enc({**msg, "data": reordered}), RECV, LIMITS).pose
    assert p2.extra["payload_index"] == "53-0-1"


@pytest.mark.parametrize(
    "patch, reason, fragment",
    [
        ({"latitude": 95.0, "longitude": 1.0}, "out_of_range", "data.latitude = 95.0"),
        ({"latitude": "22.9"}, "wrong_type", "data.latitude"),
        ({"attitude_head": True}, "wrong_type", "data.attitude_head"),
        ({"height": None, "elevation": "x"}, "wrong_type", "data.elevation"),
        ({"mode_code": 1.5}, "wrong_type", "data.mode_code"),
        ({"52-0-0": {"gimbal_pitch": 500}}, "out_of_range", "data.52-0-0.gimbal_pitch"),
        ({"longitude": None}, "missing_field", "data.longitude is missing"),
    ],
)
def test_aircraft_osd_bad_fields(patch, reason, fragment):
    msg = load("aircraft_osd_dock2.json")
    msg["data"].update(patch)
    with pytest.raises(PayloadError) as ei:
        parse_dji_osd(AIRCRAFT_SN, enc(msg), RECV, LIMITS)
    assert ei.value.reason == reason and fragment in ei.value.detail, ei.value


def test_aircraft_state_message_without_pose_fields_is_valid_status():
    msg = {"tid": "t", "bid": "b", "timestamp": 1748779140000, "gateway": "dock_sn", "data": {"firmware_version": "1"}}
    res = parse_dji_osd(AIRCRAFT_SN, enc(msg), RECV, LIMITS, kind="state")
    assert res.pose is None and res.state.kind == "state" and res.state.role == "aircraft"


# ---------------------------------------------------------------------------------------------------------
# dock OSD and merging


def test_dock_partial_messages_merge():
    msgs = load("dock2_osd.json")
    merger = DockStateMerger()
    results = [parse_dji_osd("dock_sn", enc(m), RECV, LIMITS, merger=merger) for m in msgs]
    assert [r.pose is None for r in results] == [True, True, False]
    assert all(r.state.role == "gateway" for r in results)
    merged = results[-1].state.merged
    # keys from all three partial messages are present in the merged state
    assert merged["job_number"] == 492 and merged["backup_battery"]["voltage"] == 26631
    assert merged["wireless_link"]["sdr_freq_band"] == 2.4 and merged["flighttask_step_code"] == 255
    assert merged["drone_in_dock"] == 1 and merged["latitude"] == 22.907809968
    assert merger.get("dock_sn") == merged
    assert merger.updated_at("dock_sn")["job_number"] == datetime(2022, 10, 31, 12, 54, 33, 846000, tzinfo=UTC)
    # first message's merged state only holds its own keys
    assert "latitude" not in results[0].state.merged
    # the dock named its aircraft: DRC poses under the dock SN are attributed to it
    assert merger.aircraft_for("dock_sn") == AIRCRAFT_SN

    dock = results[-1].pose
    assert (dock.lat, dock.lon) == (22.907809968, 113.703482143)
    assert dock.alt_abs_m == pytest.approx(34.174125671386719)
    assert dock.device_id == "dock_sn" and dock.extra["device_role"] == "gateway"
    assert dock.extra["drone_in_dock"] == 1 and dock.extra["mode_code"] == 1
    assert dock.extra["position_state"]["rtk_number"] == 25


def test_merger_nested_merge_and_stale_redelivery():
    m = DockStateMerger()
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    m.update("D", {"wireless_link": {"a": 1, "b": 2}, "mode_code": 1}, t0)
    m.update("D", {"wireless_link": {"b": 3}}, t0 + timedelta(seconds=1))
    m.update("D", {"mode_code": 0}, t0 - timedelta(seconds=5))  # late redelivery of an older message
    assert m.get("D") == {"wireless_link": {"a": 1, "b": 3}, "mode_code": 1}
    state = m.get("D")
    state["mode_code"] = 99  # returned copies do not alias internal state
    assert m.get("D")["mode_code"] == 1


def test_merger_is_bounded():
    m = DockStateMerger(max_devices=3)
    t = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(5):
        m.update(f"D{i}", {"x": i}, t)
    assert len(m) == 3 and m.get("D0") is None and m.get("D4") == {"x": 4}


# ---------------------------------------------------------------------------------------------------------
# DRC


def test_drc_osd_push_without_method_is_inferred():
    msg = load("drc_up_osd_info_push.json")
    p = parse_dji_drc("dock_sn", enc(msg), RECV, LIMITS)
    assert p.source == "dji_drc" and p.device_id == "dock_sn" and p.gateway_sn == "dock_sn"
    assert (p.lat, p.lon, p.alt_abs_m, p.yaw) == (10.0, 10.0, 10.0, 60.0)
    assert (p.gimbal_pitch, p.gimbal_roll, p.gimbal_yaw) == (60.0, 60.0, 60.0)
    assert p.extra["method_inferred"] is True and p.extra["device_id_is_gateway"] is True
    assert (p.extra["speed_x"], p.extra["speed_y"], p.extra["speed_z"]) == (10.0, 10.0, 10.0)
    assert p.time == datetime(2022, 12, 7, 12, 24, 51, 13000, tzinfo=UTC)


def test_drc_pose_attributed_to_aircraft_from_topology():
    merger = DockStateMerger()
    topo = load("status_update_topo.json")[0]
    topo["timestamp"] = 1748779140000
    parse_dji_status("dock_sn", enc(topo), RECV, LIMITS, merger=merger)
    msg = dict(load("drc_up_osd_info_push.json"), method="osd_info_push")
    p = parse_dji_drc("dock_sn", enc(msg), RECV, LIMITS, merger=merger)
    assert p.device_id == "drone001" and "device_id_is_gateway" not in p.extra
    assert "method_inferred" not in p.extra


def test_drc_without_method_and_position_is_rejected():
    with pytest.raises(PayloadError) as ei:
        parse_dji_drc("dock_sn", enc({"timestamp": 1748779140000, "data": {"x": 1}}), RECV, LIMITS)
    assert ei.value.reason == "missing_field" and "method" in ei.value.detail


def test_drc_hsi_is_a_record():
    msg = load("drc_up_hsi_info_push.json")
    r = parse_dji_drc("dock_sn", enc(msg), RECV, LIMITS)
    assert isinstance(r, DjiDrcRecord) and r.data["around_distance"] == [10, 8, 9, 16, 2]


# ---------------------------------------------------------------------------------------------------------
# timestamps, envelope, events, status


def test_fourteen_digit_timestamp_rejected_with_explanation():
    with pytest.raises(PayloadError) as ei:
        parse_dji_event("dock_sn", enc(load("events_airsense_warning.json")), RECV, LIMITS)
    e = ei.value
    assert e.reason == "bad_timestamp"
    assert "16540709686556" in e.detail and "14 digits" in e.detail
    assert "neither epoch milliseconds nor epoch seconds" in e.detail and "2015..2100" in e.detail


def test_fixed_airsense_event_parses():
    msg = load("events_airsense_warning.json")
    msg["timestamp"] = 1654070968655  # the 13-digit value the docs meant
    ev = parse_dji_event("dock_sn", enc(msg), RECV, LIMITS)
    assert ev.method == "airsense_warning" and ev.need_reply == 1 and ev.data[0]["icao"] == "B-5931"
    assert ev.tid == "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxx"  # not a UUID, and that is fine


def test_events_keep_method_and_data():
    ev = parse_dji_event("dock_sn", enc(load("events_hms.json")), RECV, LIMITS)
    assert ev.method == "hms" and ev.data["list"][0]["code"] == "0x16100083"
    assert ev.time == datetime(2022, 6, 1, 8, 9, 28, 655000, tzinfo=UTC)
    rh = parse_dji_event("6QCDL820020041", enc(load("events_return_home_info.json")), RECV, LIMITS)
    assert len(rh.data["planned_path_points"]) == 5


def test_update_topo_with_valid_timestamp():
    online, offline = load("status_update_topo.json")
    for m in (online, offline):
        m["timestamp"] = 1748779140000
    topo = parse_dji_status("dock_sn", enc(online), RECV, LIMITS)
    assert isinstance(topo, DjiTopology)
    assert (topo.gateway_sn, topo.domain, topo.type, topo.sub_type) == ("dock_sn", "3", 119, 0)
    assert [(d.sn, d.domain, d.type, d.index) for d in topo.sub_devices] == [("drone001", "0", 60, "A")]
    assert "secret" not in repr(topo) and "nonce" not in repr(topo)  # credentials are dropped
    assert parse_dji_status("dock_sn", enc(offline), RECV, LIMITS).sub_devices == ()


def test_placeholder_topo_timestamp_detail():
    with pytest.raises(PayloadError) as ei:
        parse_dji_status("dock_sn", enc(load("status_update_topo.json")[0]), RECV, LIMITS)
    assert ei.value.reason == "bad_timestamp" and "2009-02-13" in ei.value.detail


@pytest.mark.parametrize(
    "env, reason, fragment",
    [
        ({"data": {}}, "missing_field", "timestamp is missing"),
        ({"timestamp": "1748779140000", "data": {}}, "wrong_type", "timestamp must be an integer"),
        ({"timestamp": 1748779140000.0, "data": {}}, "wrong_type", "timestamp"),
        ({"timestamp": True, "data": {}}, "wrong_type", "timestamp"),
        ({"timestamp": 1748779140000}, "missing_field", "data is missing"),
        ({"timestamp": 1748779140000, "data": [1]}, "wrong_type", "data must be an object"),
        ({"timestamp": 1748779140000, "data": {}, "tid": 5}, "wrong_type", "tid"),
        ({"timestamp": 1748779140000, "data": {}, "gateway": "a/b"}, "bad_device_id", "gateway"),
        ({"timestamp": 1748779140000, "data": {"a": [1e400]}}, "not_finite", "data.a[0]"),
        ({"timestamp": 1748865540001, "data": {}}, "future_timestamp", "ahead"),
    ],
)
def test_envelope_errors(env, reason, fragment):
    with pytest.raises(PayloadError) as ei:
        parse_dji_envelope(enc(env), RECV, LIMITS)
    assert ei.value.reason == reason and fragment in ei.value.detail, ei.value


def test_envelope_nan_literal():
    with pytest.raises(PayloadError) as ei:
        parse_dji_envelope(b'{"timestamp": 1748779140000, "data": {"wind_speed": NaN}}', RECV, LIMITS)
    assert ei.value.reason == "not_finite" and "data.wind_speed is NaN" in ei.value.detail


def test_status_other_method_and_event_without_method():
    with pytest.raises(PayloadError) as ei:
        parse_dji_status("g", enc({"timestamp": 1748779140000, "method": "x", "data": {}}), RECV, LIMITS)
    assert ei.value.reason == "unsupported_method"
    with pytest.raises(PayloadError) as ei:
        parse_dji_event("g", enc({"timestamp": 1748779140000, "data": {}}), RECV, LIMITS)
    assert ei.value.reason == "missing_field" and "method" in ei.value.detail
