"""Pixel -> ground projection: the known answers P1-P6 of the shared vectors (tests/geo/geo_testdata.py loads
them), round trips, DEM hook, vectorised path."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from geo.camera import CameraIntrinsics, DronePose, ErrorModel
from geo.geodesy import distance_m
from geo.projection import (
    AboveHorizonError,
    BeyondRangeError,
    ProjectionError,
    TerrainNotConvergedError,
    box_ground_contact,
    ground_to_pixel,
    latlon_to_ned,
    ned_to_latlon,
    pixel_rays_ned,
    project_box,
    project_pixel,
    project_pixels,
)
from testkit.geo_testdata import cases


def _setup(inp: dict) -> tuple[DronePose, CameraIntrinsics]:
    cam = CameraIntrinsics(
        width=inp["image_w"], height=inp["image_h"], hfov_deg=inp.get("hfov_deg"), dfov_deg=inp.get("dfov_deg")
    )
    pose = DronePose(
        lat=inp["lat"],
        lon=inp["lon"],
        height_agl_m=inp["height_above_ground_m"],
        yaw_deg=inp["yaw_deg"],
        pitch_deg=inp["pitch_deg"],
        roll_deg=inp["roll_deg"],
    )
    return pose, cam


@pytest.mark.parametrize("case", cases("projection_cases"))
def test_projection_vectors(case: dict) -> None:
    pose, cam = _setup(case["input"])
    assert cam.fx == pytest.approx(case["input"]["fx_px_derived"], abs=1e-5)
    u, v = case["input"]["u"], case["input"]["v"]
    if case["expected"] is None:
        with pytest.raises(AboveHorizonError, match="horizon"):
            project_pixel(pose, cam, u, v)
        d = np.array([float(a) for a in pixel_rays_ned(pose, cam, u, v)])
        np.testing.assert_allclose(d / np.linalg.norm(d), case["expected_ray_ned"], atol=1e-8)
        res = project_pixels(pose, cam, np.array([u]), np.array([v]))
        assert not res.valid[0] and math.isnan(res.lat[0])
        return
    exp, tol = case["expected"], case["tolerance"]
    g = project_pixel(pose, cam, u, v)
    assert g.lat == pytest.approx(exp["lat"], abs=tol["latlon_deg"])
    assert g.lon == pytest.approx(exp["lon"], abs=tol["latlon_deg"])
    assert g.north_m == pytest.approx(exp["north_m"], abs=tol["metres"])
    assert g.east_m == pytest.approx(exp["east_m"], abs=tol["metres"])
    assert g.ground_range_m == pytest.approx(exp["ground_range_m"], abs=tol["metres"])
    assert g.slant_range_m == pytest.approx(exp["slant_range_m"], abs=tol["metres"])
    if exp["ground_range_m"] > 0:
        assert g.azimuth_deg == pytest.approx(exp["azimuth_deg"], abs=1e-5)
    # the vectorised path gives the same answer
    res = project_pixels(pose, cam, np.array([u]), np.array([v]))
    assert res.valid[0]
    assert res.lat[0] == pytest.approx(exp["lat"], abs=tol["latlon_deg"])
    assert res.lon[0] == pytest.approx(exp["lon"], abs=tol["latlon_deg"])
    # and the inverse returns the pixel (to < 0.02 px)
    bu, bv = ground_to_pixel(pose, cam, g.lat, g.lon)
    assert bu == pytest.approx(u, abs=0.02) and bv == pytest.approx(v, abs=0.02)


def test_nadir_orientation_checks() -> None:
    """geo.projection's frame conventions: nadir/yaw 0: right -> east, up -> north; yaw 90: top -> east, right ->
    south."""
    cam = CameraIntrinsics(width=4000, height=3000, hfov_deg=70)
    p0 = DronePose(lat=30.0, lon=120.0, height_agl_m=100)
    right = project_pixel(p0, cam, 3000, 1500)
    up = project_pixel(p0, cam, 2000, 500)
    assert right.east_m > 30 and abs(right.north_m) < 1e-9
    assert up.north_m > 30 and abs(up.east_m) < 1e-9
    p90 = DronePose(lat=30.0, lon=120.0, height_agl_m=100, yaw_deg=90)
    assert project_pixel(p90, cam, 2000, 500).east_m > 30
    assert project_pixel(p90, cam, 3000, 1500).north_m < -30
    # roll +10: the image-right side tilts down, so the right edge maps closer than the left edge
    pr = DronePose(lat=30.0, lon=120.0, height_agl_m=100, pitch_deg=-45, roll_deg=10)
    r = project_pixel(pr, cam, 3900, 1500)
    lft = project_pixel(pr, cam, 100, 1500)
    assert r.slant_range_m < lft.slant_range_m


def test_box_bottom_centre_is_ground_contact() -> None:
    cam = CameraIntrinsics(width=1920, height=1080, hfov_deg=60)
    pose = DronePose(lat=30.5728, lon=104.0668, height_agl_m=12, yaw_deg=300, pitch_deg=-20)
    assert box_ground_contact(1100, 700, 1300, 900) == (1200, 900)
    g = project_box(pose, cam, (1100, 700, 1300, 900))
    assert g.lat == pytest.approx(30.5729106936, abs=1e-8)  # P5 pixel
    centre = project_pixel(pose, cam, 1200, 800)
    assert centre.ground_range_m > g.ground_range_m  # box centre is biased away from the camera


def test_focal_length_variants_agree() -> None:
    hfov = CameraIntrinsics(width=4000, height=3000, hfov_deg=70)
    px = CameraIntrinsics(width=4000, height=3000, focal_px=hfov.fx)
    assert px.fx == hfov.fx and px.fy == hfov.fx
    f35 = CameraIntrinsics(width=5280, height=3956, f35_mm=24.0)
    dfov = math.degrees(2 * math.atan(43.2666153 / 48.0))
    assert f35.fx == pytest.approx(CameraIntrinsics(width=5280, height=3956, dfov_deg=dfov).fx)
    with pytest.raises(ValueError, match="exactly one"):
        CameraIntrinsics(width=10, height=10, hfov_deg=60, focal_px=5)
    with pytest.raises(ValueError, match="exactly one"):
        CameraIntrinsics(width=10, height=10)


def test_dji_relative_gimbal_yaw() -> None:
    pose = DronePose.from_dji(30.0, 120.0, 80.0, 20.0, -45.0, flight_yaw_deg=350.0, gimbal_yaw_is_relative=True)
    assert pose.yaw_deg == pytest.approx(10.0)
    with pytest.raises(ValueError, match="flight_yaw_deg"):
        DronePose.from_dji(30.0, 120.0, 80.0, 20.0, -45.0, gimbal_yaw_is_relative=True)


def test_error_radius_follows_the_first_order_sensitivities() -> None:
    """h=100 m, pitch -30: 1 deg yaw -> 3.0 m, 1 deg pitch -> ~6.8-7.0 m, 5 m height -> 8.7 m (the budget in
    geo.projection's docstring)."""
    cam = CameraIntrinsics(width=4000, height=3000, hfov_deg=70)
    pose = DronePose(lat=30.0, lon=120.0, height_agl_m=100, pitch_deg=-30)
    only = dict(sigma_yaw_deg=0.0, sigma_pitch_deg=0.0, sigma_height_m=0.0, sigma_position_m=0.0)
    e_yaw = project_pixel(pose, cam, 2000, 1500, error_model=ErrorModel(**{**only, "sigma_yaw_deg": 1})).error_m
    e_pitch = project_pixel(pose, cam, 2000, 1500, error_model=ErrorModel(**{**only, "sigma_pitch_deg": 1})).error_m
    e_h = project_pixel(pose, cam, 2000, 1500, error_model=ErrorModel(**{**only, "sigma_height_m": 5})).error_m
    assert e_yaw == pytest.approx(3.0, abs=0.05)
    assert 6.7 < e_pitch < 7.1
    assert e_h == pytest.approx(8.66, abs=0.05)
    # shallower grazing angle -> larger error
    steep = project_pixel(DronePose(lat=30, lon=120, height_agl_m=100, pitch_deg=-60), cam, 2000, 1500)
    shallow = project_pixel(pose, cam, 2000, 1500)
    assert shallow.error_m > steep.error_m


def test_max_range_refused() -> None:
    cam = CameraIntrinsics(width=4000, height=3000, hfov_deg=70)
    pose = DronePose(lat=30.0, lon=120.0, height_agl_m=100, pitch_deg=-2)
    with pytest.raises(BeyondRangeError):
        project_pixel(pose, cam, 2000, 1500, max_range_m=1000)
    assert issubclass(BeyondRangeError, ProjectionError) and issubclass(AboveHorizonError, ProjectionError)
    res = project_pixels(pose, cam, np.array([2000.0]), np.array([1500.0]), max_range_m=1000)
    assert not res.valid[0]


class _Plateau:
    """Terrain 20 m above the takeoff plane everywhere."""

    def ground_height(self, lat: object, lon: object) -> object:
        return np.full_like(np.asarray(lat, dtype=float), 20.0) if np.ndim(lat) else 20.0


class _Slope:
    """Ground rising northwards 1 m per 10 m (gentler than the rays used)."""

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0, self.lon0 = lat0, lon0

    def ground_height(self, lat: object, lon: object) -> object:
        n, _, _ = latlon_to_ned(self.lat0, self.lon0, lat, lon)
        return 0.1 * n


def test_dem_hook() -> None:
    cam = CameraIntrinsics(width=4000, height=3000, hfov_deg=70)
    pose = DronePose(lat=30.0, lon=120.0, height_agl_m=100, pitch_deg=-45)
    flat = project_pixel(pose, cam, 2000, 1500)
    plateau = project_pixel(pose, cam, 2000, 1500, ground=_Plateau())
    assert flat.ground_range_m == pytest.approx(100.0, abs=1e-6)
    assert plateau.ground_range_m == pytest.approx(80.0, abs=1e-6)
    slope = project_pixel(pose, cam, 2000, 1500, ground=_Slope(30.0, 120.0))
    # exact: range r with 100 - 0.1 r = r  ->  r = 90.909
    assert slope.ground_range_m == pytest.approx(100 / 1.1, abs=0.1)
    vec = project_pixels(pose, cam, np.array([2000.0]), np.array([1500.0]), ground=_Slope(30.0, 120.0))
    assert vec.north_m[0] == pytest.approx(slope.north_m, abs=0.05)
    with pytest.raises(TerrainNotConvergedError):
        project_pixel(DronePose(lat=30, lon=120, height_agl_m=10, pitch_deg=-45), cam, 2000, 1500, ground=_Plateau())


def test_tangent_plane_roundtrip() -> None:
    n = np.array([0.0, 100.0, -750.0, 999.0])
    e = np.array([0.0, -50.0, 300.0, 999.0])
    lat, lon = ned_to_latlon(23.0, 113.1, n, e)
    n2, e2, _ = latlon_to_ned(23.0, 113.1, lat, lon)
    np.testing.assert_allclose(n2, n, atol=1e-4)
    np.testing.assert_allclose(e2, e, atol=1e-4)
    assert distance_m(113.1, 23.0, lon[3], lat[3]) == pytest.approx(math.hypot(999, 999), rel=0.005)


def test_vectorised_matches_scalar_on_a_grid() -> None:
    cam = CameraIntrinsics(width=4000, height=3000, hfov_deg=70)
    pose = DronePose(lat=22.5, lon=114.0, height_agl_m=80, yaw_deg=250, pitch_deg=-35, roll_deg=2)
    uu, vv = np.meshgrid(np.linspace(0, 4000, 9), np.linspace(0, 3000, 7))
    res = project_pixels(pose, cam, uu.ravel(), vv.ravel())
    assert res.valid.all()
    for k in range(0, uu.size, 5):
        g = project_pixel(pose, cam, float(uu.ravel()[k]), float(vv.ravel()[k]))
        assert res.lat[k] == pytest.approx(g.lat, abs=1e-12)
        assert res.lon[k] == pytest.approx(g.lon, abs=1e-12)
        assert res.error_m[k] == pytest.approx(g.error_m, rel=1e-9)


@settings(max_examples=300, deadline=None)
@given(
    lat=st.floats(18, 53),
    lon=st.floats(74, 134),
    h=st.floats(5, 300),
    yaw=st.floats(0, 360),
    pitch=st.floats(-90, -15),
    roll=st.floats(-10, 10),
    u=st.floats(0, 4000),
    v=st.floats(0, 3000),
)
def test_projection_roundtrip_property(
    lat: float, lon: float, h: float, yaw: float, pitch: float, roll: float, u: float, v: float
) -> None:
    """Pixel -> ground -> pixel returns the pixel (inverse ray from the ground point)."""
    cam = CameraIntrinsics(width=4000, height=3000, hfov_deg=70)
    pose = DronePose(lat=lat, lon=lon, height_agl_m=h, yaw_deg=yaw, pitch_deg=pitch, roll_deg=roll)
    try:
        g = project_pixel(pose, cam, u, v, max_range_m=3000)
    except ProjectionError:
        assume(False)
        return
    bu, bv = ground_to_pixel(pose, cam, g.lat, g.lon)
    assert bu == pytest.approx(u, abs=0.05)
    assert bv == pytest.approx(v, abs=0.05)
    assert g.error_m > 0
