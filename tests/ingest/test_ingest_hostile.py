"""Hostile payloads on every routed topic: only the parser's own refusal (`PayloadError`) may escape, and
whatever is accepted can be stored (finite numbers, no NUL, no lone surrogate, JSON-serialisable).

The JSON is written as text by a serializer of our own, so it can hold what `json.dumps` cannot produce:
integer literals past Python's int-string limit, NaN/Infinity literals, raw `\\u0000` / unpaired `\\ud800`
escapes, and nesting past the recursion limit.
"""

from __future__ import annotations

import json
import math
import sys
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.decode import ParseLimits
from ingest.device_events import device_events
from ingest.dji.state import DockStateMerger
from ingest.models import PayloadError
from ingest.mqtt import message_topic
from ingest.router import parse_message

RECV = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
NOW_MS = int(RECV.timestamp() * 1000)
LIMIT = sys.get_int_max_str_digits() or 4300

TOPICS = [
    "enf/sensor/s1/reading",
    "enf/drone/d1/pose",
    "enf/device/c1/status",
    "thing/product/A1/osd",
    "thing/product/A1/state",
    "thing/product/G1/osd",
    "thing/product/G1/drc/up",
    "thing/product/G1/events",
    "sys/product/G1/status",
]


class Raw:
    """A JSON fragment emitted verbatim."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:40]!r}{'...' if len(self.text) > 40 else ''})"


def to_json(v: object) -> str:
    if isinstance(v, Raw):
        return v.text
    if isinstance(v, dict):
        return "{" + ",".join(f"{to_json(k)}:{to_json(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ",".join(to_json(x) for x in v) + "]"
    if isinstance(v, float) and not math.isfinite(v):
        return {math.inf: "Infinity", -math.inf: "-Infinity"}.get(v, "NaN")
    return json.dumps(v)


huge_ints = st.sampled_from([LIMIT - 1, LIMIT, LIMIT + 1, LIMIT + 500]).map(
    lambda n: Raw(("-" if n % 2 else "") + "7" * n))
odd_numbers = st.sampled_from(["1e400", "-1e400", "1e-400", "NaN", "Infinity", "-Infinity", "-0", "0.0e0",
                               "1" * 400 + ".5", "9" * 5000 + ".0", "123456789012345678901234567890"]).map(Raw)
escapes = st.lists(st.sampled_from(["\\u0000", "\\ud800", "\\udfff", "\\ud83d\\ude00", "\\ud83d", "a", "\\n",
                                    "\\\\u0000", "\\u00e9", "\\uffff", "\\\\"]), max_size=4).map(
    lambda parts: Raw('"' + "".join(parts) + '"'))
deep = st.integers(min_value=1, max_value=3000).map(lambda n: Raw("[" * n + "]" * n))
deep_objects = st.integers(min_value=1, max_value=1500).map(lambda n: Raw('{"a":' * n + "1" + "}" * n))
timestamps = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)).flatmap(
        lambda d: st.sampled_from(["Z", "+23:59", "-23:59", "+08:00", ""]).map(lambda z: d.isoformat() + z)),
    st.sampled_from([NOW_MS, NOW_MS // 1000, NOW_MS * 10, 0, -1, 2**63, 10**20, 1.5e12]),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-23:59", "9999-12-31T23:59:59.9999999Z"]),
    huge_ints, odd_numbers,
)
leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=6),
                 huge_ints, odd_numbers, escapes)
tree = st.recursive(leaf, lambda c: st.lists(c, max_size=3) | st.dictionaries(
    st.one_of(st.text(max_size=6), st.sampled_from(["52-0-0", "1" * (LIMIT + 1) + "-0-0", "\u0661-0-0"])),
    c, max_size=3), max_leaves=12)
values = st.one_of(tree, deep, deep_objects)
keys = st.sampled_from([
    "latitude", "longitude", "height", "elevation", "attitude_head", "attitude_pitch", "mode_code", "52-0-0",
    "53-0-1", "battery", "position_state", "sub_device", "sub_devices", "drone_in_dock", "speed_x", "sn",
    "ts", "seq", "readings", "lat", "lon", "yaw", "hfov_deg", "status", "x",
])
objects = st.dictionaries(st.one_of(keys, st.text(max_size=4)), values, max_size=6)
# mutations of valid messages, so the parsers get past the envelope checks
envelopes = st.fixed_dictionaries(
    {"timestamp": st.one_of(st.just(NOW_MS), timestamps), "data": st.one_of(objects, values)},
    optional={"method": st.one_of(st.sampled_from(["osd_info_push", "update_topo", "hms", "flighttask_progress"]),
                                  leaf),
              "gateway": st.one_of(st.sampled_from(["A1", "G1"]), leaf),
              "tid": leaf, "bid": leaf, "need_reply": leaf},
)
sensor = st.fixed_dictionaries(
    {"ts": st.one_of(st.just(RECV.isoformat()), timestamps),
     "readings": st.one_of(st.dictionaries(st.sampled_from(["LAeq", "PM10", "x"]), values, max_size=3), values)},
    optional={"seq": st.one_of(st.integers(), huge_ints, leaf), "extra": values},
)
pose = st.fixed_dictionaries({"ts": st.one_of(st.just(RECV.isoformat()), timestamps)}, optional={
    k: values for k in ("lat", "lon", "alt_rel_m", "yaw", "hfov_deg", "x")})
status = st.one_of(st.sampled_from([Raw('"online"'), Raw("offline")]), st.fixed_dictionaries(
    {"status": st.one_of(st.sampled_from(["online", "offline"]), leaf)},
    optional={"ts": timestamps, "x": values}))
payloads = st.one_of(envelopes, sensor, pose, status, objects, values).map(lambda v: to_json(v).encode())

MERGER = DockStateMerger()  # shared across examples: its state is part of what hostile input can reach


def _assert_storable(v: object, path: str = "") -> None:
    stack = [(v, path)]
    while stack:
        x, p = stack.pop()
        if isinstance(x, float):
            assert math.isfinite(x), p
        elif isinstance(x, str):
            assert "\x00" not in x and x.encode("utf-8"), p
        elif isinstance(x, dict):
            for k, y in x.items():
                assert "\x00" not in k and k.encode("utf-8"), p
                stack.append((y, f"{p}.{k}"))
        elif isinstance(x, (list, tuple)):
            stack.extend((y, f"{p}[{i}]") for i, y in enumerate(x))


def _parse(topic: str, payload: bytes, merger: DockStateMerger | None) -> None:
    try:
        pm = parse_message(topic, payload, RECV, ParseLimits(), merger=merger)
    except PayloadError as e:
        assert e.reason and e.detail
        return
    for r in pm.readings:
        assert math.isfinite(r.value)
    for p in pm.poses:
        _assert_storable(p.extra)
        json.dumps(p.extra, allow_nan=False)
    for ev in device_events(pm):
        _assert_storable(ev.payload)
        json.dumps(ev.payload, allow_nan=False)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topic=st.sampled_from(TOPICS), payload=payloads, stateful=st.booleans())
def test_hostile_json_on_every_route_only_raises_payload_error(topic: str, payload: bytes, stateful: bool) -> None:
    _parse(topic, payload, MERGER if stateful else None)


@settings(max_examples=800, deadline=None)
@given(topic=st.sampled_from(TOPICS), payload=st.binary(max_size=600))
def test_arbitrary_bytes_on_every_route_only_raise_payload_error(topic: str, payload: bytes) -> None:
    _parse(topic, payload, MERGER)


def _now(body: str, **fill: str) -> str:
    """`body` with NOW as the current epoch ms and each {name} filled in."""
    return body.replace("NOW", str(NOW_MS)).format(**fill) if fill else body.replace("NOW", str(NOW_MS))


# Each of these once escaped the parsers as a stdlib exception (ValueError, OverflowError) or was accepted.
KNOWN = [
    ("enf/sensor/s1/reading", '{"ts":"2026-06-01T12:00:00Z","readings":{"LAeq":50},"x":' + "1" * 4301 + "}",
     "number_too_long"),
    ("enf/device/c1/status", '{"status":"online","ignored":[' + "9" * 5000 + "]}", "number_too_long"),
    ("thing/product/G1/events", _now('{{"timestamp":NOW,"method":"hms","data":{{"n":-{n}}}}}', n="1" * 4301),
     "number_too_long"),
    ("enf/sensor/s1/reading", '{"ts":"9999-12-31T23:59:59-23:59","readings":{"LAeq":50}}', "bad_timestamp"),
    ("enf/drone/d1/pose", '{"ts":"0001-01-01T00:00:00+01:00"}', "bad_timestamp"),
    ("thing/product/A1/osd", _now('{{"timestamp":NOW,"data":{{"attitude_head":1,"{k}-0-0":{{}}}}}}', k="1" * 4400),
     None),
    ("thing/product/G1/osd", _now('{"timestamp":NOW,"gateway":"G1","data":{"latitude":1,"longitude":2,'
                                  '"position_state":{"x":"a\\u0000"}}}'), "bad_string"),
    ("thing/product/A1/osd", _now('{"timestamp":NOW,"data":{"latitude":1,"longitude":2,'
                                  '"position_state":{"\\ud800":1}}}'), "bad_string"),
    ("sys/product/G1/status", _now('{"timestamp":NOW,"method":"update_topo","data":{"sub_devices":[],'
                                   '"thing_version":"\\udfff"}}'), "bad_string"),
]


@pytest.mark.parametrize(("topic", "payload", "reason"), KNOWN)
def test_known_hostile_payloads(topic: str, payload: str, reason: str | None) -> None:
    try:
        parse_message(topic, payload.encode(), RECV, merger=DockStateMerger())
    except PayloadError as e:
        assert reason is None or e.reason == reason, e
    else:
        assert reason is None, "accepted a payload that must be refused"


def test_number_too_long_names_where() -> None:
    body = '{"ts":"2026-06-01T12:00:00Z",\n "readings":{"LAeq":' + "1" * 4301 + "}}"
    with pytest.raises(PayloadError) as ei:
        parse_message("enf/sensor/s1/reading", body.encode(), RECV)
    assert ei.value.reason == "number_too_long"
    assert "4301 digits at line 2 column 21" in ei.value.detail


def test_paired_surrogates_and_escaped_backslashes_are_fine() -> None:
    body = _now('{"timestamp":NOW,"method":"hms","data":{"t":"\\ud83d\\ude00","p":"C:\\\\u0000"}}').encode()
    pm = parse_message("thing/product/G1/events", body, RECV)
    assert pm.records[0].data == {"t": "\U0001f600", "p": "C:\\u0000"}


def test_offsets_still_convert_to_utc() -> None:
    body = json.dumps({"ts": "2026-06-01T19:59:00+08:00", "readings": {"LAeq": 1}}).encode()
    assert parse_message("enf/sensor/s1/reading", body, RECV).readings[0].time == RECV - timedelta(minutes=1)


def test_a_topic_that_is_not_utf8_is_text_the_router_refuses() -> None:
    msg = mqtt.MQTTMessage(mid=1, topic=b"enf/sensor/\xff\xfe/reading")
    topic = message_topic(msg)
    assert topic == "enf/sensor/\\xff\\xfe/reading"
    with pytest.raises(PayloadError) as ei:
        parse_message(topic, b"{}", RECV)
    assert ei.value.reason == "bad_device_id"
