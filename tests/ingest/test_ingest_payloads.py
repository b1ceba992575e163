"""Sensor reading and generic pose payload parsing (ingest/payloads.py)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.decode import DEFAULT_LIMITS, METRIC_RE
from ingest.models import PayloadError, Reading
from ingest.payloads import SensorReadingPayload, parse_generic_pose, parse_sensor_reading

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RECV = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
SKEW = 300.0
MAX = 4096


def sensor(payload: bytes | str, *, skew: float = SKEW, max_bytes: int = MAX) -> list[Reading]:
    if isinstance(payload, str):
        payload = payload.encode()
    return parse_sensor_reading("noise-01", payload, RECV, max_future_skew_s=skew, max_bytes=max_bytes)


def reason_of(fn, *args, **kw) -> PayloadError:
    with pytest.raises(PayloadError) as ei:
        fn(*args, **kw)
    return ei.value


# ---------------------------------------------------------------------------------------------------------
# valid sensor payloads


def test_valid_reading_maps_every_metric():
    out = sensor('{"ts": "2025-06-01T11:59:00Z", "seq": 17, "readings": {"LAeq": 72.4, "PM10": 118}}')
    assert out == [
        Reading(datetime(2025, 6, 1, 11, 59, tzinfo=UTC), "noise-01", "LAeq", 72.4, 17, RECV),
        Reading(datetime(2025, 6, 1, 11, 59, tzinfo=UTC), "noise-01", "PM10", 118.0, 17, RECV),
    ]
    assert type(out[1].value) is float


def test_offset_is_normalised_to_utc():
    (r,) = sensor('{"ts": "2025-06-01T19:30:00.250+08:00", "readings": {"LAeq": 55}}')
    assert r.time == datetime(2025, 6, 1, 11, 30, 0, 250000, tzinfo=UTC)
    assert r.time.utcoffset() == timedelta(0)
    assert r.seq is None


@pytest.mark.parametrize(
    "ts, expected",
    [
        (1748779140000, datetime(2025, 6, 1, 11, 59, tzinfo=UTC)),  # epoch ms
        (1748779140, datetime(2025, 6, 1, 11, 59, tzinfo=UTC)),  # epoch s
        (1748779140.5, datetime(2025, 6, 1, 11, 59, 0, 500000, tzinfo=UTC)),  # float s
        ("2025-06-01t11:59:00z", datetime(2025, 6, 1, 11, 59, tzinfo=UTC)),  # RFC 3339 allows lower case
        ("2025-06-01 11:59:00Z", datetime(2025, 6, 1, 11, 59, tzinfo=UTC)),  # RFC 3339 allows a space
        ("2025-06-01T11:59:00.123456789Z", datetime(2025, 6, 1, 11, 59, 0, 123456, tzinfo=UTC)),  # ns truncated
    ],
)
def test_timestamp_forms(ts, expected):
    (r,) = sensor(json.dumps({"ts": ts, "readings": {"LAeq": 1}}))
    assert r.time == expected


def test_unknown_keys_ignored_and_null_seq_is_absent():
    (r,) = sensor('{"ts": "2025-06-01T11:59:00Z", "seq": null, "fw": "1.2", "readings": {"PM2.5": 35.5}}')
    assert (r.metric, r.value, r.seq) == ("PM2.5", 35.5, None)


def test_skew_boundary():
    at_limit = (RECV + timedelta(seconds=SKEW)).isoformat()
    assert sensor(json.dumps({"ts": at_limit, "readings": {"x": 1}}))[0].time == RECV + timedelta(seconds=SKEW)
    beyond = (RECV + timedelta(seconds=SKEW, milliseconds=1)).isoformat()
    e = reason_of(sensor, json.dumps({"ts": beyond, "readings": {"x": 1}}))
    assert e.reason == "future_timestamp"
    assert "300.001 s ahead" in e.detail


def test_old_timestamps_are_accepted():
    (r,) = sensor('{"ts": "2016-01-01T00:00:00Z", "readings": {"x": 1}}')
    assert r.time.year == 2016


# ---------------------------------------------------------------------------------------------------------
# malformed corpus: (payload, reason, substring of detail)

BIG = b'{"ts": "2025-06-01T11:59:00Z", "readings": {"LAeq": 1}, "pad": "' + b"x" * MAX + b'"}'

MALFORMED = [
    ("invalid json", b'{"ts": "2025-06-01T11:59:00Z", "readings": {', "invalid_json", "line 1"),
    ("trailing garbage", b'{"ts": 1}x', "invalid_json", "Extra data"),
    ("not utf-8", b'{"ts": "\xff\xfe"}', "invalid_json", "not UTF-8"),
    ("empty payload", b"", "invalid_json", "Expecting value"),
    ("array", b"[1, 2]", "not_an_object", "array"),
    ("number", b"42", "not_an_object", "number"),
    ("string", b'"hello"', "not_an_object", "string"),
    ("null", b"null", "not_an_object", "null"),
    ("missing ts", b'{"readings": {"LAeq": 1}}', "missing_field", "ts is missing"),
    ("null ts", b'{"ts": null, "readings": {"LAeq": 1}}', "missing_field", "ts is null"),
    ("missing readings", b'{"ts": "2025-06-01T11:59:00Z"}', "missing_field", "readings is missing"),
    ("readings is list", b'{"ts": "2025-06-01T11:59:00Z", "readings": [1]}', "wrong_type", "readings must"),
    ("value is string", b'{"ts": "2025-06-01T11:59:00Z", "readings": {"LAeq": "72"}}', "wrong_type", "LAeq"),
    ("value is null", b'{"ts": "2025-06-01T11:59:00Z", "readings": {"LAeq": null}}', "wrong_type", "null"),
    ("bool as number", b'{"ts": "2025-06-01T11:59:00Z", "readings": {"LAeq": true}}', "wrong_type", "boolean"),
    ("false as number", b'{"ts": "2025-06-01T11:59:00Z", "readings": {"PM10": false}}', "wrong_type", "PM10"),
    ("object value", b'{"ts": "2025-06-01T11:59:00Z", "readings": {"LAeq": {"v": 1}}}', "wrong_type", "object"),
    ("seq is string", b'{"ts": "2025-06-01T11:59:00Z", "seq": "1", "readings": {"a": 1}}', "wrong_type", "seq"),
    ("seq is float", b'{"ts": "2025-06-01T11:59:00Z", "seq": 1.0, "readings": {"a": 1}}', "wrong_type", "seq"),
    ("seq is bool", b'{"ts": "2025-06-01T11:59:00Z", "seq": true, "readings": {"a": 1}}', "wrong_type", "seq"),
    ("seq negative", b'{"ts": "2025-06-01T11:59:00Z", "seq": -1, "readings": {"a": 1}}', "out_of_range", "seq"),
    (
        "seq > int64",
        b'{"ts": "2025-06-01T11:59:00Z", "seq": 9223372036854775808, "readings": {"a": 1}}',
        "out_of_range",
        "seq",
    ),
    ("ts is bool", b'{"ts": true, "readings": {"a": 1}}', "wrong_type", "ts"),
    ("ts is object", b'{"ts": {}, "readings": {"a": 1}}', "wrong_type", "ts"),
    ("NaN literal", b'{"ts": "2025-06-01T11:59:00Z", "readings": {"LAeq": NaN}}', "not_finite", "readings.LAeq"),
    (
        "Infinity literal",
        b'{"ts": "2025-06-01T11:59:00Z", "readings": {"PM10": Infinity}}',
        "not_finite",
        "readings.PM10 is Infinity",
    ),
    (
        "-Infinity literal",
        b'{"ts": "2025-06-01T11:59:00Z", "readings": {"PM10": -Infinity}}',
        "not_finite",
        "-Infinity",
    ),
    ("overflow to inf", b'{"ts": "2025-06-01T11:59:00Z", "readings": {"PM10": 1e400}}', "not_finite", "readings.PM10"),
    (
        "huge integer",
        b'{"ts": "2025-06-01T11:59:00Z", "readings": {"PM10": 1' + b"0" * 400 + b"}}",
        "not_finite",
        "readings.PM10",
    ),
    ("oversize", BIG, "oversize", f"limit is {MAX}"),
    (
        "future beyond skew",
        b'{"ts": "2025-06-01T12:05:01Z", "readings": {"a": 1}}',
        "future_timestamp",
        "ahead of received_at",
    ),
    ("naive timestamp", b'{"ts": "2025-06-01T11:59:00", "readings": {"a": 1}}', "bad_timestamp", "no zone"),
    ("date only", b'{"ts": "2025-06-01", "readings": {"a": 1}}', "bad_timestamp", "RFC 3339"),
    ("garbage ts", b'{"ts": "yesterday", "readings": {"a": 1}}', "bad_timestamp", "RFC 3339"),
    ("month 13", b'{"ts": "2025-13-01T00:00:00Z", "readings": {"a": 1}}', "bad_timestamp", "month"),
    ("ts before 2015", b'{"ts": "2009-02-13T23:31:30Z", "readings": {"a": 1}}', "bad_timestamp", "2015..2100"),
    ("epoch 0", b'{"ts": 0, "readings": {"a": 1}}', "bad_timestamp", "neither"),
    ("epoch 14 digits", b'{"ts": 16540709686556, "readings": {"a": 1}}', "bad_timestamp", "14 digits"),
    ("epoch microseconds", b'{"ts": 1748779140000000, "readings": {"a": 1}}', "bad_timestamp", "neither"),
    ("empty readings", b'{"ts": "2025-06-01T11:59:00Z", "readings": {}}', "empty_readings", "empty"),
    ("bad metric name", b'{"ts": "2025-06-01T11:59:00Z", "readings": {"LA eq": 1}}', "bad_metric", "LA eq"),
    ("empty metric name", b'{"ts": "2025-06-01T11:59:00Z", "readings": {"": 1}}', "bad_metric", "''"),
    ("metric starting digit", b'{"ts": "2025-06-01T11:59:00Z", "readings": {"10PM": 1}}', "bad_metric", "10PM"),
    ("metric sql-ish", b'{"ts": "2025-06-01T11:59:00Z", "readings": {"a;drop": 1}}', "bad_metric", "a;drop"),
    (
        "duplicate metric",
        b'{"ts": "2025-06-01T11:59:00Z", "readings": {"LAeq": 1, "LAeq": 99}}',
        "duplicate_key",
        "'LAeq'",
    ),
    ("duplicate ts", b'{"ts": "2025-06-01T11:59:00Z", "ts": 1, "readings": {"a": 1}}', "duplicate_key", "'ts'"),
]


@pytest.mark.parametrize("payload, reason, fragment", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_sensor_payloads(payload, reason, fragment):
    e = reason_of(sensor, payload)
    assert e.reason == reason, e.detail
    assert fragment in e.detail
    assert str(e).startswith(f"{reason}: ")


def test_one_bad_metric_rejects_whole_message():
    e = reason_of(sensor, '{"ts": "2025-06-01T11:59:00Z", "readings": {"LAeq": 70, "PM10": "x"}}')
    assert e.reason == "wrong_type" and "readings.PM10" in e.detail


def test_naive_received_at_is_a_caller_bug_not_a_payload_error():
    with pytest.raises(ValueError) as ei:
        parse_sensor_reading(
            "d", b'{"ts": 1748779140, "readings": {"a": 1}}', datetime(2025, 6, 1), max_future_skew_s=1, max_bytes=99
        )
    assert not isinstance(ei.value, PayloadError)


def test_schema_model_documents_the_same_fields():
    schema = SensorReadingPayload.model_json_schema()
    assert set(schema["properties"]) == {"ts", "seq", "readings"}
    assert schema["required"] == ["ts", "readings"]


# ---------------------------------------------------------------------------------------------------------
# generic pose


def pose(obj: dict | bytes):
    payload = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return parse_generic_pose("drone-7", payload, RECV, max_future_skew_s=SKEW, max_bytes=MAX)


def test_generic_pose_full():
    p = pose(
        {
            "ts": "2025-06-01T11:59:59.5Z",
            "lat": 23.02,
            "lon": 113.12,
            "alt_rel_m": 80,
            "alt_abs_m": 101.5,
            "yaw": 270,
            "pitch": -2.5,
            "roll": 1,
            "gimbal_yaw": 190.0,
            "gimbal_pitch": -90,
            "gimbal_roll": 0,
            "hfov_deg": 84,
        }
    )
    assert (p.lat, p.lon, p.alt_rel_m, p.alt_abs_m) == (23.02, 113.12, 80.0, 101.5)
    assert p.yaw == -90.0  # 270 normalised to -180..180
    assert p.gimbal_yaw == -170.0
    assert (p.pitch, p.roll, p.gimbal_pitch, p.gimbal_roll, p.hfov_deg) == (-2.5, 1.0, -90.0, 0.0, 84.0)
    assert p.time == datetime(2025, 6, 1, 11, 59, 59, 500000, tzinfo=UTC)
    assert p.source == "generic" and p.device_id == "drone-7" and p.received_at == RECV
    assert p.has_fix and p.extra == {}


def test_generic_pose_zero_zero_is_no_fix():
    p = pose({"ts": 1748779140000, "lat": 0, "lon": 0, "alt_rel_m": 0})
    assert p.lat is None and p.lon is None and not p.has_fix
    assert p.extra["no_fix"] == "lat_lon_zero"
    assert p.alt_rel_m == 0.0


def test_generic_pose_without_position():
    p = pose({"ts": 1748779140000, "yaw": 10})
    assert not p.has_fix and p.yaw == 10.0 and "no_fix" not in p.extra


@pytest.mark.parametrize(
    "obj, reason, fragment",
    [
        ({"lat": 1, "lon": 2}, "missing_field", "ts"),
        ({"ts": 1748779140000, "lat": 91, "lon": 0}, "out_of_range", "lat = 91"),
        ({"ts": 1748779140000, "lat": 10, "lon": -180.5}, "out_of_range", "lon = -180.5"),
        ({"ts": 1748779140000, "lat": 10}, "missing_field", "lon is missing while lat is present"),
        ({"ts": 1748779140000, "lat": "10", "lon": 1}, "wrong_type", "lat must be a number"),
        ({"ts": 1748779140000, "lat": True, "lon": 1}, "wrong_type", "boolean"),
        ({"ts": 1748779140000, "yaw": 400}, "out_of_range", "yaw = 400"),
        ({"ts": 1748779140000, "hfov_deg": 200}, "out_of_range", "hfov_deg"),
        ({"ts": 1748779140000, "alt_abs_m": 1e6}, "out_of_range", "alt_abs_m"),
        ({"ts": 1748779140000, "pitch": "up"}, "wrong_type", "pitch"),
        ({"ts": "2025-06-01T12:00:00"}, "bad_timestamp", "no zone"),
        ({"ts": "2025-06-02T12:00:00Z"}, "future_timestamp", "ahead"),
    ],
)
def test_generic_pose_errors(obj, reason, fragment):
    e = reason_of(pose, obj)
    assert e.reason == reason and fragment in e.detail, e


def test_generic_pose_nan_literal():
    e = reason_of(pose, b'{"ts": 1748779140000, "lat": NaN, "lon": 1}')
    assert e.reason == "not_finite" and "lat is NaN" in e.detail


# ---------------------------------------------------------------------------------------------------------
# property tests

metric_names = st.from_regex(METRIC_RE, fullmatch=True)
finite = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(min_value=-(2**53), max_value=2**53),
)
times = st.datetimes(min_value=datetime(2015, 1, 2), max_value=datetime(2025, 6, 1, 12, 0), timezones=st.just(UTC)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@settings(max_examples=300, deadline=None)
@given(
    t=times,
    tz=offsets,
    ts_form=st.sampled_from(["rfc3339", "ms", "s"]),
    seq=st.one_of(st.none(), st.integers(min_value=0, max_value=2**63 - 1)),
    readings=st.dictionaries(metric_names, finite, min_size=1, max_size=20),
)
def test_valid_payload_round_trips(t, tz, ts_form, seq, readings):
    if ts_form == "rfc3339":
        ts = t.astimezone(tz).isoformat()
    elif ts_form == "ms":
        ts = (t - EPOCH) // timedelta(milliseconds=1)
    else:
        t = t.replace(microsecond=0)
        ts = (t - EPOCH) // timedelta(seconds=1)
    body = {"ts": ts, "readings": readings}
    if seq is not None:
        body["seq"] = seq
    out = parse_sensor_reading("dev.1", json.dumps(body).encode(), RECV, max_future_skew_s=SKEW, max_bytes=1 << 20)
    assert [(r.metric, r.value) for r in out] == [(k, float(v)) for k, v in readings.items()]
    assert all(r.time == t and r.seq == seq and r.device_id == "dev.1" and r.received_at == RECV for r in out)
    assert all(type(r.value) is float and math.isfinite(r.value) for r in out)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_payload_error(data):
    for fn in (parse_sensor_reading, parse_generic_pose):
        try:
            fn("d", data, RECV, max_future_skew_s=SKEW, max_bytes=200)
        except PayloadError as e:
            assert e.reason and e.detail


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["ts", "seq", "readings", "lat", "lon", "yaw", "hfov_deg", "x"]), json_values, max_size=6
    )
)
def test_arbitrary_json_objects_only_raise_payload_error(obj):
    data = json.dumps(obj).encode()  # may contain NaN/Infinity literals: those must be refused too
    for fn in (parse_sensor_reading, parse_generic_pose):
        try:
            fn("d", data, RECV, max_future_skew_s=SKEW, max_bytes=DEFAULT_LIMITS.max_bytes)
        except PayloadError as e:
            assert e.reason
