"""DJI SRT subtitles: every sample variant to poses whose first and last positions and times were read by hand
from the files, the bracketed gimbal format, refusals for bad cues, and robustness to line endings and garbage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.telemetry.detect import detect_format, parse_telemetry
from ingest.telemetry.records import TelemetryFileError
from ingest.telemetry.srt import parse_srt
from testkit.paths import shared_path

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2024, 5, 1, 10, 0, 0)  # a local start for the files with no date


def _sample(name: str) -> bytes:
    return shared_path("samples", "dji_srt", name).read_bytes()


def _local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


# file, format, poses, (first local time, lat, lon, alt_rel, alt_abs), (last ...): read from the files by hand.
# The dateless files' times are START plus the cue's start offset (cue 117 starts at 00:01:56, cue 55 at 00:00:54).
SAMPLES = [
    ("dji_air2s.srt", "dji_srt_bracketed", 17,
     ("2022-08-07 13:40:40.774808", 41.424724, 2.234156, None, None),
     ("2022-08-07 13:40:41.308639", 41.424730, 2.234102, None, None)),
    ("dji_matrice300.srt", "dji_srt", 381,
     ("2022-06-21 16:06:17", 36.6146, -6.1120, 0.3, None),
     ("2022-06-21 16:12:37", 36.6146, -6.1120, 0.0, None)),
    ("dji_mavic2_zoom_first1500.srt", "dji_srt_bracketed", 1500,
     ("2020-04-02 15:19:58.720764", 31.452012, 74.398751, None, None),
     ("2020-04-02 15:20:23.729012", 31.451907, 74.398676, None, None)),
    ("dji_mavic3_first1500.srt", "dji_srt_bracketed", 1500,
     ("2021-12-25 12:27:52.373", 3.41531, -3.37440, -2.4, 0.401),
     ("2021-12-25 12:28:22.350", 3.41504, -3.37411, -4.5, -1.699)),
    ("dji_mavic_mini.srt", "dji_srt", 117,
     ("2024-05-01 10:00:00", 48.0771, -121.7458, 200.70, None),
     ("2024-05-01 10:01:56", 48.0775, -121.7476, 200.80, None)),
    ("dji_mavic_pro_legacy.srt", "dji_srt", 468,
     ("2017-08-05 14:11:51", -20.2533, 149.0251, 1.9, None),
     ("2017-08-05 14:19:39", -20.2532, 149.0251, 0.0, None)),
    ("dji_phantom4_rtk.srt", "dji_srt", 55,
     ("2024-05-01 10:00:00", -34.237922, -58.851745, 85.80, None),
     ("2024-05-01 10:00:54", -34.232349, -58.849196, 85.80, None)),
]


@pytest.mark.parametrize(("name", "fmt", "count", "first", "last"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_sample_first_and_last(name: str, fmt: str, count: int, first: tuple, last: tuple) -> None:
    data = _sample(name)
    assert detect_format(data) == fmt
    parsed = parse_telemetry(data, tz=SHANGHAI, start=START, device_id="drone-01")
    assert (parsed.format, len(parsed.poses), parsed.refusals) == (fmt, count, [])
    for pose, (when, lat, lon, alt_rel, alt_abs) in ((parsed.poses[0], first), (parsed.poses[-1], last)):
        assert pose.time == _local(when)
        assert (pose.lat, pose.lon, pose.alt_rel_m, pose.alt_abs_m) == pytest.approx((lat, lon, alt_rel, alt_abs))
        assert (pose.source, pose.device_id) == ("srt", "drone-01")
    times = [p.time for p in parsed.poses]
    assert times == sorted(times)


@pytest.mark.parametrize(("name", "index", "expected"), [
    # cue 1 of the Mavic 2 Zoom: fnum 280 is f/2.8, focal_len 240 is 24 mm, the misspelled `longtitude`
    ("dji_mavic2_zoom_first1500.srt", 0, {"frame": 1, "cue": 1, "cue_start_ms": 0, "cue_end_ms": 16, "iso": 120,
                                          "shutter": "1/2500.0", "fnum": 2.8, "focal_len": 24.0, "ev": 0.0,
                                          "ct": 5003, "diff_time_ms": 16, "altitude_m": 213.983002}),
    ("dji_mavic3_first1500.srt", -1, {"frame": 1500, "cue_start_ms": 29980, "video_offset_s": 29.98, "iso": 100,
                                      "fnum": 2.8, "focal_len": 24.0, "ct": 5261}),
    ("dji_air2s.srt", 16, {"frame": 17, "cue_start_ms": 533, "altitude_m": 117.1}),
    ("dji_mavic_mini.srt", 0, {"fnum": 2.8, "shutter": "30.15", "iso": 260, "ev": -1.7, "satellites": 17,
                               "distance_m": 221.21, "video_offset_s": 0.0}),
    ("dji_phantom4_rtk.srt", 1, {"h_speed_ms": 2.88, "satellites": 15, "home_lat": -34.232707,
                                 "home_lon": -58.847509, "home_alt_m": -57.98, "distance_m": 697.41}),
    ("dji_matrice300.srt", -1, {"gps_alt_m": 0.0, "cue": 381, "cue_start_ms": 380000, "video_offset_s": 380.0}),
    # the legacy cues start at 00:00:01; EV is written empty
    ("dji_mavic_pro_legacy.srt", 0, {"iso": 100, "shutter": "60", "fnum": 2.2, "satellites": 16,
                                     "home_lat": -20.2532, "home_lon": 149.0251, "video_offset_s": 1.0}),
])
def test_cue_extras(name: str, index: int, expected: dict) -> None:
    extra = parse_srt(_sample(name), tz=SHANGHAI, start=START, device_id="d").poses[index].extra
    assert {k: extra.get(k) for k in expected} == expected
    if name == "dji_mavic_pro_legacy.srt":
        assert "ev" not in extra


def test_phantom4_aircraft_and_gimbal_angles() -> None:
    poses = parse_srt(_sample("dji_phantom4_rtk.srt"), tz=SHANGHAI, start=START, device_id="d").poses
    # F.PRY (2.7°, -7.0°, 110.1°), G.PRY (-24.4°, 0.0°, 110.4°); last cue F.PRY (8.4, -20.1, 109.2), G.PRY (.., 111.9)
    first, last = poses[0], poses[-1]
    assert (first.pitch, first.roll, first.yaw) == (2.7, -7.0, 110.1)
    assert (first.gimbal_pitch, first.gimbal_roll, first.gimbal_yaw) == (-24.4, 0.0, 110.4)
    assert (last.pitch, last.roll, last.yaw, last.gimbal_yaw) == (8.4, -20.1, 109.2, 111.9)


def test_zone_places_local_times() -> None:
    madrid = ZoneInfo("Europe/Madrid")  # the M300 flew near Cádiz, in summer time (UTC+2)
    poses = parse_srt(_sample("dji_matrice300.srt"), tz=madrid, start=None, device_id="d").poses
    assert poses[0].time == datetime(2022, 6, 21, 14, 6, 17, tzinfo=UTC)


@pytest.mark.parametrize("name", ["dji_mavic_mini.srt", "dji_phantom4_rtk.srt"])
def test_dateless_file_needs_a_start(name: str) -> None:
    with pytest.raises(TelemetryFileError) as err:
        parse_telemetry(_sample(name), tz=SHANGHAI, start=None, device_id="d")
    assert err.value.reason == "no_date" and "--start" in str(err.value)


def test_an_aware_start_keeps_its_own_zone() -> None:
    start = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    poses = parse_srt(_sample("dji_mavic_mini.srt"), tz=SHANGHAI, start=start, device_id="d").poses
    assert (poses[0].time, poses[-1].time) == (start, start + timedelta(seconds=116))


BRACKETED_GIMBAL = """1
00:00:00,000 --> 00:00:00,033
<font size="28">SrtCnt : 1, DiffTime : 33ms
2023-03-04 09:10:11.120
[iso : 100] [shutter : 1/1000.0] [fnum : 170] [ev : 0] [color_md : default] [focal_len : 24.00]
[dzoom_ratio: 2.00] [latitude: 22.543210] [longitude: 113.987654] [rel_alt: 120.500 abs_alt: 135.250]
[gb_yaw : -170.3 gb_pitch : -89.9 gb_roll : 0.0] </font>

2
00:00:00,033 --> 00:00:00,066
<font size="28">SrtCnt : 2, DiffTime : 33ms
2023-03-04 09:10:11.153
[iso : 100] [shutter : 1/1000.0] [fnum : 170] [ev : 0] [latitude: 0.000000] [longitude: 0.000000]
[rel_alt: 0.000 abs_alt: 0.000] [gb_yaw : 190.0 gb_pitch : -45.0 gb_roll : 0.5] </font>

3
00:00:00,066 --> 00:00:00,100
<font size="28">SrtCnt : 3, DiffTime : 34ms
2023-13-04 09:10:11.186
[latitude: 22.543211] [longitude: 113.987655] [rel_alt: 120.6 abs_alt: 135.3] </font>

4
00:00:00,100 --> 00:00:00,133
<font size="28">SrtCnt : 4, DiffTime : 33ms</font>

this line is not a cue

5
00:00:00,133 --> 00:00:00,166
2023-03-04 09:10:11.253
[latitude: ] [longitude: ] [rel_alt: 120.7 abs_alt: 135.4]
"""


def test_bracketed_format_with_gimbal_angles_and_refusals() -> None:
    parsed = parse_telemetry(BRACKETED_GIMBAL.encode(), tz=SHANGHAI, start=None, device_id="m30-01")
    assert parsed.format == "dji_srt_bracketed"
    first, no_fix, empty = parsed.poses
    assert first.time == datetime(2023, 3, 4, 1, 10, 11, 120000, tzinfo=UTC)
    assert (first.lat, first.lon, first.alt_rel_m, first.alt_abs_m) == (22.54321, 113.987654, 120.5, 135.25)
    assert (first.gimbal_yaw, first.gimbal_pitch, first.gimbal_roll) == (-170.3, -89.9, 0.0)
    assert (first.extra["fnum"], first.extra["focal_len"], first.extra["dzoom"]) == (1.7, 24.0, 2.0)
    # 0,0 is no position: the pose is kept (time, attitude) without a fix; gb_yaw 190 is -170
    assert (no_fix.lat, no_fix.lon, no_fix.has_fix, no_fix.gimbal_yaw) == (None, None, False, pytest.approx(-170.0))
    assert (empty.has_fix, empty.alt_rel_m) == (False, 120.7)
    assert [(r.index, r.reason, r.position_only) for r in parsed.refusals] == [
        (10, "no_position", True), (17, "bad_time", False), (23, "unparsable_cue", False),
        (26, "unparsable_cue", False), (29, "no_position", True)]
    assert "month must be in 1..12" in parsed.refusals[1].detail
    assert "'this line is not a cue'" in parsed.refusals[3].detail


def test_unknown_bytes_are_refused_whole() -> None:
    with pytest.raises(TelemetryFileError) as err:
        parse_telemetry(b"\x89PNG\r\n\x1a\n....", tz=SHANGHAI, start=None, device_id="d")
    assert err.value.reason == "unknown_format"


def _variant(text: str, eol: str, bom: bool) -> bytes:
    return (("\ufeff" if bom else "") + text.replace("\r\n", "\n").replace("\n", eol)).encode("utf-8")


@pytest.mark.parametrize("name", ["dji_matrice300.srt", "dji_phantom4_rtk.srt", "dji_mavic_pro_legacy.srt"])
@pytest.mark.parametrize(("eol", "bom"), [("\n", False), ("\r\n", True), ("\r", False), ("\n", True)])
def test_line_endings_and_bom_give_the_same_poses(name: str, eol: str, bom: bool) -> None:
    text = _sample(name).decode("utf-8")
    base = parse_srt(text.encode(), tz=SHANGHAI, start=START, device_id="d")
    other = parse_srt(_variant(text, eol, bom), tz=SHANGHAI, start=START, device_id="d")
    assert other.poses == base.poses and other.refusals == base.refusals == []


_CUES = BRACKETED_GIMBAL.split("\n\n")[:2]
_GARBAGE_LINE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), min_size=1,
                        max_size=40).filter(lambda s: bool(s.strip()) and "-->" not in s)


@settings(max_examples=60, deadline=None)
@given(eol=st.sampled_from(["\n", "\r\n", "\r"]), bom=st.booleans(),
       garbage=st.lists(st.lists(_GARBAGE_LINE, min_size=1, max_size=3), max_size=4),
       where=st.lists(st.integers(0, 2), min_size=4, max_size=4))
def test_garbage_blocks_become_refusals(eol: str, bom: bool, garbage: list[list[str]], where: list[int]) -> None:
    blocks: list[str] = list(_CUES)
    for i, lines in enumerate(garbage):
        blocks.insert(min(where[i], len(blocks)), "\n".join(lines))
    data = _variant("\n\n".join(blocks) + "\n", eol, bom)
    clean = parse_srt("\n\n".join(_CUES), tz=SHANGHAI, start=None, device_id="d")
    parsed = parse_srt(data, tz=SHANGHAI, start=None, device_id="d")
    assert parsed.poses == clean.poses
    assert [r.reason for r in parsed.refusals if not r.position_only] == ["unparsable_cue"] * len(garbage)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_any_bytes_never_raise_but_a_file_refusal(data: bytes) -> None:
    prefix = b"1\n00:00:00,000 --> 00:00:01,000\n"
    for blob in (data, prefix + data):
        try:
            parse_telemetry(blob, tz=SHANGHAI, start=None, device_id="d")
        except TelemetryFileError as exc:
            assert exc.reason in {"unknown_format", "no_date"}
