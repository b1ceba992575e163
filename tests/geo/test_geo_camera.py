"""Camera intrinsics from photo metadata (geo.camera_models): the DJI model table, the order of preference, the
16:9 crop and the scaled calibration, read against the sample photos where they exist."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.camera_models import (
    DJI_CAMERAS,
    IntrinsicsUnavailable,
    camera_spec,
    focal_plane_px_per_mm,
    intrinsics_for_photo,
)
from testkit.paths import SHARED

PHOTOS = SHARED / "samples" / "dji_photos"


def _meta(name: str):
    path = PHOTOS / name
    if not path.exists():
        pytest.skip(f"shared sample {path} not present")
    from ingest.telemetry.xmp import parse_photo_meta

    return parse_photo_meta(path.read_bytes())


@pytest.mark.parametrize("model", sorted(DJI_CAMERAS))
def test_table_entries_are_consistent(model: str) -> None:
    for spec in DJI_CAMERAS[model]:
        assert "specs" in spec.source and spec.source.startswith("DJI")  # names the datasheet
        assert spec.native_width / spec.native_height == pytest.approx(spec.aspect, rel=0.02)
        assert 5.0 < spec.sensor_width_mm < 36.0


@pytest.mark.parametrize(
    ("name", "expected_fx", "source", "rel"),
    [
        # FC300S 4000 x 2250 (16:9 of the 4:3 sensor), 3.61 mm: over the sensor width 6.17 mm
        ("dji_phantom3_fc300s_nadir_parking_cars_DJI_0028.jpg", 3.61 * 4000 / 6.17, "sensor_table:FC300S", 1e-9),
        # FC3582 4032 x 3024, 6.72 mm over 9.7 mm
        ("dji_mini3pro_indoor_gps_invalid_DJI_0218.jpg", 6.72 * 4032 / 9.7, "sensor_table:FC3582", 1e-9),
        # L2D-20c thumbnail 56 x 42 (EXIF claims 5272 x 3948), 12.29 mm over 17.3 mm, at the thumbnail's scale
        # (its rounding to 42 rows makes it a hair narrower than the sensor's 4:3: 0.1 %)
        ("dji_mavic3pro_thumb_oblique_xmp.jpg", 12.29 * 56 / 17.3, "sensor_table:L2D-20c", 2e-3),
    ],
)
def test_sample_photos(name: str, expected_fx: float, source: str, rel: float) -> None:
    m = _meta(name)
    cam = intrinsics_for_photo(m.model, m.width, m.height, focal_mm=m.focal_mm, focal_35mm=m.focal_35mm,
                               calibrated_focal_px=m.calibrated_focal_px, full_w=m.exif_width, full_h=m.exif_height)
    assert cam.fx == pytest.approx(expected_fx, rel=rel)
    assert cam.source is not None and cam.source.startswith(source)


def test_sample_without_focal_metadata_is_refused() -> None:
    m = _meta("dji_test_pro_thumb_xmp_two_packets.jpg")
    assert m.model == "Test_Pro" and m.focal_mm is None and m.focal_35mm is None
    with pytest.raises(IntrinsicsUnavailable) as exc:
        intrinsics_for_photo(m.model, m.width, m.height, focal_mm=m.focal_mm, focal_35mm=m.focal_35mm)
    assert exc.value.reason == "no_intrinsics" and "Test_Pro" in str(exc.value)


def test_calibrated_focal_length_wins_and_is_scaled() -> None:
    # an M3E calibration for the 5280 x 3956 original, applied to a quarter-size copy
    cam = intrinsics_for_photo("M3E", 1320, 989, focal_mm=12.29, focal_35mm=24, calibrated_focal_px=3713.29,
                               calibrated_cx_px=2647.86, calibrated_cy_px=1969.58, full_w=5280, full_h=3956)
    assert cam.source == "calibrated"
    assert cam.fx == pytest.approx(3713.29 / 4, rel=1e-12)
    assert cam.cx == pytest.approx(2647.86 / 4, rel=1e-12)
    assert cam.cy == pytest.approx(1969.58 / 4 - (3956 / 4 - 989) / 2, rel=1e-12)
    # a 16:9 crop (5280 x 2970) of the same frame: the centre row moves up by the rows cut from the top
    crop = intrinsics_for_photo("M3E", 5280, 2970, calibrated_focal_px=3713.29, calibrated_cx_px=2647.86,
                                calibrated_cy_px=1969.58, full_w=5280, full_h=3956)
    assert crop.fx == pytest.approx(3713.29) and crop.cy == pytest.approx(1969.58 - (3956 - 2970) / 2)
    # without full_w the table's native size is the reference
    native = intrinsics_for_photo("M3E", 2640, 1978, calibrated_focal_px=3713.29)
    assert native.fx == pytest.approx(3713.29 / 2) and native.cx == pytest.approx(1320)


def test_unknown_model_uses_focal_plane_resolution_then_35mm() -> None:
    px_per_mm = focal_plane_px_per_mm(4000 / 6.17 * 25.4, 2)  # pixels per inch
    assert px_per_mm == pytest.approx(4000 / 6.17)
    cam = intrinsics_for_photo("XT2", 4000, 3000, focal_mm=3.61, focal_35mm=20, focal_plane_x_px_per_mm=px_per_mm)
    assert cam.source == "focal_plane_resolution" and cam.fx == pytest.approx(3.61 * 4000 / 6.17)
    half = intrinsics_for_photo("XT2", 2000, 1125, focal_mm=3.61, focal_plane_x_px_per_mm=px_per_mm,
                                full_w=4000, full_h=3000)
    assert half.fx == pytest.approx(3.61 * 2000 / 6.17)
    f35 = intrinsics_for_photo("XT2", 4000, 2250, focal_mm=3.61, focal_35mm=20)
    assert f35.source == "35mm_equivalent:4:3_sensor_assumed"
    assert f35.fx == pytest.approx(20 * 5000 / 43.2666153)
    with pytest.raises(IntrinsicsUnavailable, match="no_size"):
        intrinsics_for_photo("FC300S", 0, 3000, focal_mm=3.61)


@pytest.mark.parametrize(
    ("unit", "value", "expected"), [(2, 25.4, 1.0), (3, 10.0, 1.0), (4, 1.0, 1.0), (5, 1000.0, 1e6), (9, 1.0, None)]
)
def test_focal_plane_units(unit: int, value: float, expected: float | None) -> None:
    got = focal_plane_px_per_mm(value, unit)
    assert got == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("model", "w", "h", "lens"),
    [("ZH20T", 4056, 3040, "wide"), ("ZH20T", 5184, 3888, "zoom"), ("ZH20T", 640, 512, "thermal"),
     ("M3T", 640, 512, "thermal"), ("zh20t", 5184, 2916, "zoom"),
     ("FC3170", 4000, 3000, "wide"), ("FC3170", 1234, 567, "wide")],
)
def test_multi_lens_models_pick_the_lens_by_frame(model: str, w: int, h: int, lens: str) -> None:
    spec = camera_spec(model, w, h)
    assert spec is not None and spec.lens == lens


def test_ambiguous_or_unknown_lens_falls_back() -> None:
    assert camera_spec("ZH20T", 1000, 1000) is None  # fits no lens
    assert camera_spec("M3T", 8000, 6000) is not None and camera_spec("M3T", 8000, 6000).lens == "wide"
    # M3T: the wide camera's 12 MP mode and the tele share the frame and the 1/2" sensor: either will do
    m3t = camera_spec("M3T", 4000, 3000)
    assert m3t is not None and m3t.sensor_width_mm == 6.4
    assert camera_spec(None, 4000, 3000) is None and camera_spec("NoSuch", 4000, 3000) is None
    cam = intrinsics_for_photo("ZH20T", 1000, 1000, focal_mm=4.5, focal_35mm=24)
    assert cam.source == "35mm_equivalent:4:3_sensor_assumed"


@settings(max_examples=200, deadline=None)
@given(model=st.sampled_from(sorted(DJI_CAMERAS)), scale=st.sampled_from([1, 2, 4]), crop169=st.booleans(),
       focal=st.floats(2.0, 200.0))
def test_hfov_follows_the_sensor_width_for_any_scale_and_16_9_crop(model: str, scale: int, crop169: bool,
                                                                   focal: float) -> None:
    spec = DJI_CAMERAS[model][0]
    w = spec.native_width // scale
    h = round(w * 9 / 16) if crop169 else spec.native_height // scale
    cam = intrinsics_for_photo(model, w, h, focal_mm=focal)
    if camera_spec(model, w, h) is not spec:
        return  # another lens of the model fits this frame better
    hfov = 2 * math.degrees(math.atan(spec.sensor_width_mm / (2 * focal)))
    assert cam.hfov_deg_effective == pytest.approx(hfov, rel=1e-9)
