"""DJI photo metadata: each sample's EXIF and XMP values, read by hand from the files (`strings` on the XMP packet,
the GPS rationals from the README's DMS), the refusals of photo_pose, and hostile bytes."""

from __future__ import annotations

import contextlib
import struct
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.models import Pose
from ingest.telemetry.xmp import PhotoMeta, PhotoMetaError, Refusal, parse_photo_meta, photo_pose, photo_time
from testkit.photo_samples import CHICAGO, INVALID, NADIR, OBLIQUE, TWO, sample

# (file, field, expected): XMP attributes as `strings` shows them; EXIF GPS from 46°50'33.08"N 91°59'39.15"W.
KNOWN = [
    (NADIR, "width", 4000), (NADIR, "height", 2250), (NADIR, "make", "DJI"), (NADIR, "model", "FC300S"),
    (NADIR, "rel_alt_m", 40.10), (NADIR, "abs_alt_m", 198.61), (NADIR, "gimbal_pitch", -89.90),
    (NADIR, "gimbal_yaw", -133.50), (NADIR, "gimbal_roll", 0.0), (NADIR, "flight_yaw", -133.00),
    (NADIR, "flight_pitch", -2.40), (NADIR, "flight_roll", -1.00), (NADIR, "position_source", "exif"),
    (NADIR, "taken_at", datetime(2016, 6, 23, 16, 33, 11)), (NADIR, "utc_offset", None),
    (NADIR, "focal_mm", 3.61), (NADIR, "focal_35mm", 20.0), (NADIR, "gps_status", None),
    (NADIR, "xmp_create_date", "2016-06-23"), (NADIR, "exif_width", 4000),
    (INVALID, "width", 4032), (INVALID, "height", 3024), (INVALID, "model", "FC3582"),
    (INVALID, "product", "Mini 3 Pro"), (INVALID, "gps_status", "Invalid"), (INVALID, "lat", 0.0),
    (INVALID, "lon", 0.0), (INVALID, "abs_alt_m", 283.325), (INVALID, "rel_alt_m", 0.0),
    (INVALID, "altitude_type", "RtkAlt"), (INVALID, "gimbal_pitch", -7.00), (INVALID, "gimbal_yaw", -68.10),
    (INVALID, "gimbal_roll", -1.30), (INVALID, "flight_pitch", -23.70), (INVALID, "camera_serial", "53HFK9F0M60FYZ"),
    (INVALID, "taken_at", datetime(2023, 11, 23, 13, 50, 54)), (INVALID, "utc_offset", timedelta(0)),
    (INVALID, "focal_mm", 6.72), (INVALID, "focal_35mm", 24.0), (INVALID, "exif_lat", 0.0),
    (OBLIQUE, "width", 56), (OBLIQUE, "height", 42), (OBLIQUE, "exif_width", 5272), (OBLIQUE, "exif_height", 3948),
    (OBLIQUE, "make", "Hasselblad"), (OBLIQUE, "model", "L2D-20c"), (OBLIQUE, "product", "DJIMavic3Pro"),
    (OBLIQUE, "lat", 53.035437857), (OBLIQUE, "lon", 6.300153653), (OBLIQUE, "position_source", "xmp"),
    (OBLIQUE, "abs_alt_m", -62.394), (OBLIQUE, "rel_alt_m", 10.5), (OBLIQUE, "gimbal_pitch", -45.80),
    (OBLIQUE, "gimbal_yaw", -163.00), (OBLIQUE, "flight_yaw", -179.20), (OBLIQUE, "flight_roll", -2.60),
    (OBLIQUE, "gimbal_reverse", False), (OBLIQUE, "cam_reverse", False), (OBLIQUE, "gps_status", "Normal"),
    (OBLIQUE, "altitude_type", "GpsFusionAlt"), (OBLIQUE, "utc_offset", timedelta(hours=2)),
    (OBLIQUE, "exif_alt_m", -62.394), (OBLIQUE, "xmp_packets", 1),  # XMP inside EXIF (XMLPacket), no APP1 XMP
    (TWO, "width", 19), (TWO, "height", 12), (TWO, "model", "Test_Pro"), (TWO, "lat", 52.9157605),
    (TWO, "lon", 5.4491625), (TWO, "abs_alt_m", 22.32), (TWO, "rel_alt_m", 24.90), (TWO, "gimbal_pitch", -70.00),
    (TWO, "gimbal_yaw", -46.80), (TWO, "flight_pitch", -16.20), (TWO, "taken_at", None),
    (TWO, "exif_lat", None), (TWO, "focal_mm", None),
]


@pytest.mark.parametrize(("name", "attr", "expected"), KNOWN)
def test_sample_values(name: str, attr: str, expected: object) -> None:
    got = getattr(parse_photo_meta(sample(name)), attr)
    if isinstance(expected, float):
        assert got == pytest.approx(expected, abs=1e-9)
    else:
        assert got == expected


def test_exif_gps_of_the_nadir_photo_is_the_readme_dms() -> None:
    meta = parse_photo_meta(sample(NADIR))
    assert meta.lat == pytest.approx(46 + 50 / 60 + 33.08 / 3600, abs=2e-6)
    assert meta.lon == pytest.approx(-(91 + 59 / 60 + 39.15 / 3600), abs=2e-6)  # the README rounds to 0.01"


def test_the_drone_dji_fields_are_kept_as_written() -> None:
    meta = parse_photo_meta(sample(OBLIQUE))
    assert meta.xmp["SensorFPS"] == "5994/100"
    assert meta.xmp["GimbalPitchDegree"] == "-45.80"


@pytest.mark.parametrize(("name", "reason"), [(INVALID, "gps_invalid"), (TWO, "no_time")])
def test_photo_pose_refusals(name: str, reason: str) -> None:
    got = photo_pose(parse_photo_meta(sample(name)), "drone-1", UTC)
    assert isinstance(got, Refusal)
    assert got.reason == reason and got.detail


def test_photo_pose_of_the_nadir_photo_uses_the_given_zone() -> None:
    pose = photo_pose(parse_photo_meta(sample(NADIR)), "drone-1", CHICAGO)
    assert isinstance(pose, Pose)
    assert pose.time == datetime(2016, 6, 23, 21, 33, 11, tzinfo=UTC)  # CDT is UTC-5
    assert (pose.source, pose.alt_rel_m, pose.gimbal_pitch, pose.yaw) == ("xmp", 40.10, -89.90, -133.0)
    assert pose.extra["position_source"] == "exif"


def test_photo_pose_of_the_oblique_photo_keeps_its_own_offset() -> None:
    pose = photo_pose(parse_photo_meta(sample(OBLIQUE)), "drone-1", CHICAGO)
    assert isinstance(pose, Pose)
    assert pose.time == datetime(2023, 8, 16, 10, 40, 41, tzinfo=UTC)
    assert pose.extra["utc_offset"] == "photo"


@pytest.mark.parametrize(("changes", "reason"), [
    ({"gps_status": "Invalid"}, "gps_invalid"),
    ({"lat": 0.0, "lon": 0.0}, "zero_position"),
    ({"lat": None}, "no_position"),
    ({"lat": 91.0}, "bad_position"),
    ({"taken_at": None}, "no_time"),
])
def test_photo_pose_refuses(changes: dict[str, object], reason: str) -> None:
    base = {"lat": 10.0, "lon": 20.0, "position_source": "xmp", "taken_at": datetime(2024, 1, 2, 3, 4, 5),
            "gps_status": "Normal"}
    got = photo_pose(PhotoMeta(**{**base, **changes}), "d", UTC)  # type: ignore[arg-type]
    assert isinstance(got, Refusal) and got.reason == reason


def test_calibrated_focal_gives_the_horizontal_fov() -> None:
    meta = PhotoMeta(lat=1.0, lon=2.0, taken_at=datetime(2024, 1, 1), width=4000, height=3000,
                     calibrated_focal_px=2000.0)
    pose = photo_pose(meta, "d", UTC)
    assert isinstance(pose, Pose) and pose.hfov_deg == pytest.approx(90.0)


def _app1(payload: bytes) -> bytes:
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _xmp(attrs: str) -> bytes:
    return (b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF><rdf:Description "
            b"xmlns:drone-dji='http://www.dji.com/drone-dji/1.0/' " + attrs.encode() + b"/></rdf:RDF></x:xmpmeta>")


def test_several_packets_are_merged_first_value_winning() -> None:
    data = sample(TWO)
    extra = _app1(_xmp('drone-dji:GpsLatitude="+1.0" drone-dji:GpsStatus="RTK" '
                       'drone-dji:CalibratedFocalLength="3713.29" drone-dji:RtkFlag="50" '
                       'drone-dji:DewarpData="2022-06-08;3713.29,3713.29,7.02"'))
    meta = parse_photo_meta(data[:2] + data[2:20] + extra + data[20:])  # after JFIF, before the sample's XMP
    assert meta.xmp_packets == 2
    assert meta.lat == 1.0 and meta.lon == 5.4491625
    assert (meta.gps_status, meta.rtk_flag, meta.calibrated_focal_px) == ("RTK", 50, 3713.29)
    assert meta.dewarp_data == "2022-06-08;3713.29,3713.29,7.02"


def test_misspelled_longtitude_and_element_form() -> None:
    body = (b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><rdf:RDF xmlns:dji='http://www.dji.com/drone-dji/1.0/'>"
            b"<rdf:Description dji:GpsLongtitude='+113.5'><dji:GpsLatitude>+22.25</dji:GpsLatitude>"
            b"</rdf:Description></rdf:RDF></x:xmpmeta>")
    meta = parse_photo_meta(b"\xff\xd8" + _app1(body) + b"\xff\xda\x00\x02")
    assert (meta.lat, meta.lon, meta.position_source) == (22.25, 113.5, "xmp")


def test_extended_xmp_is_reassembled() -> None:
    guid = b"0123456789ABCDEF0123456789ABCDEF"
    full = b"<x:xmpmeta xmlns:drone-dji='http://www.dji.com/drone-dji/1.0/' drone-dji:GimbalYawDegree='+12.5'/>"
    a, b = full[:40], full[40:]
    sig = b"http://ns.adobe.com/xmp/extension/\x00"
    segs = [_app1(sig + guid + struct.pack(">II", len(full), off) + part) for off, part in ((40, b), (0, a))]
    meta = parse_photo_meta(b"\xff\xd8" + b"".join(segs) + b"\xff\xda\x00\x02")
    assert meta.gimbal_yaw == 12.5


def _exif_with_offset(offset: bytes) -> bytes:
    """A minimal little-endian EXIF: IFD0 -> Exif IFD with DateTimeOriginal and OffsetTimeOriginal."""
    dto, off = b"2024:05:01 12:00:00\x00", offset + b"\x00"
    exif_ifd = 8 + 2 + 12 + 4
    data_at = exif_ifd + 2 + 2 * 12 + 4
    tiff = b"II*\x00" + struct.pack("<I", 8)
    tiff += struct.pack("<H", 1) + struct.pack("<HHII", 0x8769, 4, 1, exif_ifd) + struct.pack("<I", 0)
    tiff += struct.pack("<H", 2) + struct.pack("<HHII", 0x9003, 2, len(dto), data_at)
    tiff += struct.pack("<HHII", 0x9011, 2, len(off), data_at + len(dto)) + struct.pack("<I", 0) + dto + off
    return b"\xff\xd8" + _app1(b"Exif\x00\x00" + tiff) + b"\xff\xda\x00\x02"


@pytest.mark.parametrize(("offset", "expected"), [
    (b"+08:00", datetime(2024, 5, 1, 4, tzinfo=UTC)),
    (b"-0330", datetime(2024, 5, 1, 15, 30, tzinfo=UTC)),
    (b"+99:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),  # no such offset: the given zone (UTC here)
])
def test_exif_offset_time_original(offset: bytes, expected: datetime) -> None:
    meta = parse_photo_meta(_exif_with_offset(offset))
    assert meta.taken_at == datetime(2024, 5, 1, 12)
    assert photo_time(meta, UTC) == expected


def test_exif_offset_time_wins() -> None:
    meta = PhotoMeta(taken_at=datetime(2024, 5, 1, 12, 0, 0, 250000), utc_offset=timedelta(hours=8))
    assert photo_time(meta, UTC) == datetime(2024, 5, 1, 4, 0, 0, 250000, tzinfo=UTC)
    assert photo_time(PhotoMeta(taken_at=datetime(2024, 5, 1, 12)), timezone(timedelta(hours=-3))) == \
        datetime(2024, 5, 1, 15, tzinfo=UTC)


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "not_jpeg"), (b"GIF89a....", "not_jpeg"), (b"\xff\xd8", "truncated"), (b"\xff\xd8\xff\xd9", "truncated"),
    (b"\xff\xd8\xff\xe1\x10\x00Exif", "truncated"), (b"\xff\xd8\x00\x00", "not_jpeg"),
    (b"\xff\xd8" + _app1(b"Exif\x00\x00XX*\x00") + b"\xff\xda\x00\x02", "bad_exif"),
    (b"\xff\xd8" + _app1(b"Exif\x00\x00II*\x00\xff\xff\x00\x00") + b"\xff\xda\x00\x02", "bad_exif"),
])
def test_bad_bytes_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(PhotoMetaError) as err:
        parse_photo_meta(data)
    assert err.value.reason == reason


@pytest.mark.parametrize("name", [TWO, OBLIQUE])
def test_truncated_samples_are_refused_before_the_image_data(name: str) -> None:
    data = sample(name)
    with pytest.raises(PhotoMetaError) as err:
        parse_photo_meta(data[:300])
    assert err.value.reason == "truncated"


@pytest.fixture(scope="module")
def oblique() -> bytes:
    return sample(OBLIQUE)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(min_value=0, max_value=11587), flips=st.lists(
    st.tuples(st.integers(min_value=0, max_value=11586), st.integers(min_value=0, max_value=255)), max_size=8))
def test_mangled_bytes_never_raise_anything_else(oblique: bytes, cut: int, flips: list[tuple[int, int]]) -> None:
    data = bytearray(oblique[:cut])
    for at, value in flips:
        if at < len(data):
            data[at] = value
    try:
        meta = parse_photo_meta(bytes(data))
    except PhotoMetaError as exc:
        assert exc.reason in {"not_jpeg", "truncated", "bad_exif"}
        return
    result = photo_pose(meta, "d", UTC)
    assert isinstance(result, Pose | Refusal)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=512))
def test_garbage_never_raises_anything_else(data: bytes) -> None:
    for candidate in (data, b"\xff\xd8" + data):
        with contextlib.suppress(PhotoMetaError):
            parse_photo_meta(candidate)

