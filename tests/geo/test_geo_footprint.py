"""Photo footprints: exact nadir rectangles, oblique trapezoids checked by back-projection, clipping at the range
limit, and the 16:9 photo whose footprint the image-diagonal conversion made 10% too large."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from geo.camera import CameraIntrinsics, DronePose
from geo.camera_models import intrinsics_for_photo
from geo.footprint import photo_footprint
from geo.projection import ground_to_pixel, latlon_to_ned
from testkit.paths import SHARED

PHANTOM3 = SHARED / "samples" / "dji_photos" / "dji_phantom3_fc300s_nadir_parking_cars_DJI_0028.jpg"


def _ne(pose: DronePose, ring: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.array(ring).T
    n, e, _ = latlon_to_ned(pose.lat, pose.lon, lat, lon)
    return n, e


@pytest.mark.parametrize(("w", "h", "hfov", "alt"), [(4000, 3000, 70.0, 100.0), (1920, 1080, 60.0, 35.0)])
@pytest.mark.parametrize("curved", [False, True])
def test_nadir_footprint_is_the_exact_rectangle(w: int, h: int, hfov: float, alt: float, curved: bool) -> None:
    cam = CameraIntrinsics(width=w, height=h, hfov_deg=hfov)
    pose = DronePose(lat=30.0, lon=120.0, height_agl_m=alt, yaw_deg=0.0, pitch_deg=-90.0)
    fp = photo_footprint(pose, cam, edge_samples=4, earth_curvature=curved)
    assert fp is not None and not fp.clipped
    half_e = alt * math.tan(math.radians(hfov / 2))
    half_n = alt * (h / 2) / cam.fy
    n, e = _ne(pose, fp.ring)
    tol = 1e-6 if not curved else 1e-4 * alt  # the curved ground is d^2/2R lower: micrometres at these sizes
    assert float(np.max(np.abs(e))) == pytest.approx(half_e, abs=tol)
    assert float(np.max(np.abs(n))) == pytest.approx(half_n, abs=tol)
    assert fp.area_m2 == pytest.approx(4 * half_e * half_n, rel=1e-5)
    assert fp.gsd_m_per_px == pytest.approx(alt / cam.fx, rel=1e-5)
    assert fp.centre == pytest.approx((120.0, 30.0), abs=1e-12)
    assert fp.ring[0] == fp.ring[-1] and fp.border_points == 16
    assert shapely.Polygon(fp.ring).exterior.is_ccw  # RFC 7946 orientation
    assert fp.to_geojson(photo="x")["geometry"]["type"] == "Polygon"


@pytest.mark.parametrize(("yaw", "pitch", "roll"), [(0.0, -45.0, 0.0), (250.0, -35.0, 2.0), (30.0, -60.0, -4.0)])
def test_oblique_footprint_back_projects_onto_the_image_border(yaw: float, pitch: float, roll: float) -> None:
    cam = CameraIntrinsics(width=4000, height=3000, hfov_deg=70)
    pose = DronePose(lat=22.5, lon=114.0, height_agl_m=80, yaw_deg=yaw, pitch_deg=pitch, roll_deg=roll)
    fp = photo_footprint(pose, cam)
    assert fp is not None and not fp.clipped
    lon, lat = np.array(fp.ring).T
    u, v = ground_to_pixel(pose, cam, lat, lon)
    on_edge = np.minimum.reduce([np.abs(u), np.abs(u - 4000), np.abs(v), np.abs(v - 3000)])
    assert float(np.max(on_edge)) < 0.01


def test_oblique_footprint_is_a_trapezoid_wider_far_away() -> None:
    cam = CameraIntrinsics(width=4000, height=3000, hfov_deg=70)
    pose = DronePose(lat=30.0, lon=120.0, height_agl_m=100, yaw_deg=0.0, pitch_deg=-45.0)
    fp = photo_footprint(pose, cam, edge_samples=1, earth_curvature=False)  # just the 4 corners
    assert fp is not None
    n, e = _ne(pose, fp.ring[:-1])
    far, near = n > 100, n < 100
    assert far.sum() == 2 and near.sum() == 2
    far_w, near_w = np.ptp(e[far]), np.ptp(e[near])
    assert far_w > 1.5 * near_w
    np.testing.assert_allclose(e[far].sum(), 0, atol=1e-9)  # symmetric about the line of sight
    # near edge: the bottom image row, 45 + half the vertical FOV below the horizontal
    vfov_half = math.atan(1500 / cam.fy)
    assert float(n[near][0]) == pytest.approx(100 / math.tan(math.radians(45) + vfov_half), abs=1e-6)


def test_footprint_clipped_at_the_range_limit() -> None:
    cam = CameraIntrinsics(width=4000, height=3000, hfov_deg=70)
    pose = DronePose(lat=30.0, lon=120.0, height_agl_m=100, yaw_deg=90.0, pitch_deg=-10.0)  # top above the horizon
    fp = photo_footprint(pose, cam, max_range_m=2000)
    assert fp is not None and fp.clipped
    n, e = _ne(pose, fp.ring)
    ranges = np.hypot(n, e)
    assert float(np.max(ranges)) <= 2000.0 + 1e-6
    assert float(np.max(ranges)) > 1999.0  # cut at the limit, not short of it
    assert photo_footprint(DronePose(lat=30, lon=120, height_agl_m=100, pitch_deg=30), cam) is None


def test_16_9_phantom_3_photo_footprint_from_the_sensor() -> None:
    """The sample FC300S photo (4000 x 2250, FocalLength 3.61 mm, 20 mm equivalent) at 40.1 m, nadir: the footprint
    is 40.1 * 6.17 / 3.61 = 68.5 m wide (the sensor's width); converting 20 mm over the image's own diagonal made
    it 75.6 m, 10% too large."""
    if not PHANTOM3.exists():
        pytest.skip(f"shared sample {PHANTOM3} not present")
    from ingest.telemetry.xmp import parse_photo_meta

    meta = parse_photo_meta(PHANTOM3.read_bytes())
    assert (meta.model, meta.width, meta.height, meta.focal_mm) == ("FC300S", 4000, 2250, 3.61)
    cam = intrinsics_for_photo(meta.model, meta.width, meta.height, focal_mm=meta.focal_mm,
                               focal_35mm=meta.focal_35mm, full_w=meta.exif_width, full_h=meta.exif_height)
    assert meta.lat is not None and meta.lon is not None and meta.rel_alt_m is not None
    pose = DronePose.from_dji(meta.lat, meta.lon, meta.rel_alt_m, 0.0, -90.0)
    fp = photo_footprint(pose, cam, earth_curvature=False)
    assert fp is not None
    _, e = _ne(pose, fp.ring)
    width = float(np.ptp(e))
    assert width == pytest.approx(40.1 * 6.17 / 3.61, rel=1e-6)
    old = CameraIntrinsics(width=4000, height=2250, dfov_deg=math.degrees(2 * math.atan(43.2666153 / 40)))
    old_fp = photo_footprint(pose, old, earth_curvature=False)
    assert old_fp is not None
    old_width = float(np.ptp(_ne(pose, old_fp.ring)[1]))
    assert old_width / width == pytest.approx(1.10, abs=0.01)
    # the 35 mm equivalent alone, converted over the 4:3 sensor, lands within DJI's rounding (20 vs 20.4 mm)
    f35 = intrinsics_for_photo(None, 4000, 2250, focal_35mm=20.0)
    assert f35.fx == pytest.approx(cam.fx, rel=0.025)
