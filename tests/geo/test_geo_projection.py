"""Pixel -> ground projection: the known answers P1-P6 of the shared vectors (tests/geo/geo_testdata.py loads
them), round trips, DEM hook, vectorised path."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from geo import geodesy
from geo.camera import CameraIntrinsics, DronePose, ErrorModel, NoPositionError
from geo.geodesy import distance_m
from geo.projection import (
    CAMERA_BELOW_TERRAIN,
    NOT_CONVERGED,
    STANDARD_REFRACTION_K,
    TERRAIN_NOT_REACHED,
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
    # the vectors are defined on the tangent plane (their "conventions"); the curved ground is tested below
    g = project_pixel(pose, cam, u, v, earth_curvature=False)
    assert g.lat == pytest.approx(exp["lat"], abs=tol["latlon_deg"])
    assert g.lon == pytest.approx(exp["lon"], abs=tol["latlon_deg"])
    assert g.north_m == pytest.approx(exp["north_m"], abs=tol["metres"])
    assert g.east_m == pytest.approx(exp["east_m"], abs=tol["metres"])
    assert g.ground_range_m == pytest.approx(exp["ground_range_m"], abs=tol["metres"])
    assert g.slant_range_m == pytest.approx(exp["slant_range_m"], abs=tol["metres"])
    if exp["ground_range_m"] > 0:
        assert g.azimuth_deg == pytest.approx(exp["azimuth_deg"], abs=1e-5)
    # the vectorised path gives the same answer
    res = project_pixels(pose, cam, np.array([u]), np.array([v]), earth_curvature=False)
    assert res.valid[0]
    assert res.lat[0] == pytest.approx(exp["lat"], abs=tol["latlon_deg"])
    assert res.lon[0] == pytest.approx(exp["lon"], abs=tol["latlon_deg"])
    # and the inverse returns the pixel (to < 0.02 px)
    bu, bv = ground_to_pixel(pose, cam, g.lat, g.lon, earth_curvature=False)
    assert bu == pytest.approx(u, abs=0.02) and bv == pytest.approx(v, abs=0.02)
    # at these ranges (<= 87 m) the curved ground moves the point by at most the drop d^2/2R over tan(grazing)
    curved = project_pixel(pose, cam, u, v)
    drop = exp["ground_range_m"] ** 2 / (2 * 6.37e6) / math.tan(math.radians(curved.grazing_deg))
    assert 0 <= curved.ground_range_m - g.ground_range_m <= drop * 1.01 + 1e-9


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
    # a 4:3 image of a 4:3 sensor: the sensor's diagonal is the image's, so f35 agrees with the DFOV it implies
    f35 = CameraIntrinsics(width=4000, height=3000, f35_mm=24.0)
    dfov = math.degrees(2 * math.atan(43.2666153 / 48.0))
    assert f35.fx == pytest.approx(CameraIntrinsics(width=4000, height=3000, dfov_deg=dfov).fx, rel=1e-9)
    with pytest.raises(ValueError, match="exactly one"):
        CameraIntrinsics(width=10, height=10, hfov_deg=60, focal_px=5)
    with pytest.raises(ValueError, match="exactly one"):
        CameraIntrinsics(width=10, height=10)
    with pytest.raises(ValueError, match="sensor_width_mm"):
        CameraIntrinsics(width=10, height=10, focal_mm=5)


@pytest.mark.parametrize(
    ("kw", "expected_fx"),
    [
        # 16:9 crop of a 4:3 sensor: the full sensor is 4000 x 3000 px, its diagonal 5000 px
        (dict(f35_mm=20.0), 20.0 * 5000 / 43.2666153),
        (dict(f35_mm=20.0, sensor_width_mm=6.17, sensor_height_mm=4.55),
         20.0 * math.hypot(4000, 4000 * 4.55 / 6.17) / 43.2666153),
        # focal length in mm over the sensor width the image spans
        (dict(focal_mm=3.61, sensor_width_mm=6.17, sensor_height_mm=4.55), 3.61 * 4000 / 6.17),
        (dict(focal_mm=3.61, sensor_width_mm=6.17), 3.61 * 4000 / 6.17),
    ],
)
def test_16_9_photo_intrinsics_come_from_the_sensor(kw: dict, expected_fx: float) -> None:
    cam = CameraIntrinsics(width=4000, height=2250, **kw)
    assert cam.fx == pytest.approx(expected_fx, rel=1e-9)
    # the old conversion over the 16:9 image's own diagonal made the field of view ~10% wider
    old_fx = 20.0 * math.hypot(4000, 2250) / 43.2666153
    assert cam.fx / old_fx > 1.07


def test_square_crop_keeps_the_sensor_height() -> None:
    cam = CameraIntrinsics(width=3000, height=3000, focal_mm=3.61, sensor_width_mm=6.17, sensor_height_mm=4.55)
    # the full sensor spans 3000 * 6.17/4.55 px horizontally
    assert cam.fx == pytest.approx(3.61 * 3000 / 4.55, rel=1e-9)


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
    """A planar slope: ground rising northwards ``grade`` metres per metre from (lat0, lon0)."""

    def __init__(self, lat0: float, lon0: float, grade: float = 0.1) -> None:
        self.lat0, self.lon0, self.grade = lat0, lon0, grade

    def ground_height(self, lat: object, lon: object) -> object:
        n, _, _ = latlon_to_ned(self.lat0, self.lon0, lat, lon)
        return self.grade * n


class _Step:
    """A terrain model that jumps 80 m up 100 m north of the origin (no continuous crossing to converge to)."""

    def ground_height(self, lat: object, lon: object) -> object:
        n, _, _ = latlon_to_ned(30.0, 120.0, lat, lon)
        return np.where(np.asarray(n) > 100.0, 80.0, 0.0)


def test_dem_hook_plateau_and_camera_below_terrain() -> None:
    cam = CameraIntrinsics(width=4000, height=3000, hfov_deg=70)
    pose = DronePose(lat=30.0, lon=120.0, height_agl_m=100, pitch_deg=-45)
    flat = project_pixel(pose, cam, 2000, 1500, earth_curvature=False)
    plateau = project_pixel(pose, cam, 2000, 1500, ground=_Plateau(), earth_curvature=False)
    assert flat.ground_range_m == pytest.approx(100.0, abs=1e-6)
    assert plateau.ground_range_m == pytest.approx(80.0, abs=1e-4)
    assert plateau.height_m == pytest.approx(20.0, abs=1e-3)
    with pytest.raises(TerrainNotConvergedError, match="below the terrain"):
        project_pixel(DronePose(lat=30, lon=120, height_agl_m=10, pitch_deg=-45), cam, 2000, 1500, ground=_Plateau())
    res = project_pixels(DronePose(lat=30, lon=120, height_agl_m=10, pitch_deg=-45), cam, np.array([2000.0]),
                         np.array([1500.0]), ground=_Plateau())
    assert not res.valid[0] and res.status is not None and res.status[0] == CAMERA_BELOW_TERRAIN


@pytest.mark.parametrize("grade", [0.1, 0.3, 0.35])
@pytest.mark.parametrize("curved", [False, True])
def test_slopes_at_pitch_minus_20_land_on_the_terrain(grade: float, curved: bool) -> None:
    """Terrain rising towards the camera's view nearly as steeply as the ray (tan 20 = 0.364): the old 8-step fixed
    point stopped 26 m and 98 m short on 0.3 and 0.35. Each result must lie on the terrain within a mm and on the
    pixel's ray (the inverse projection of the 3-D point returns the pixel)."""
    cam = CameraIntrinsics(width=4000, height=3000, hfov_deg=70)
    pose = DronePose(lat=30.0, lon=120.0, height_agl_m=100, yaw_deg=0, pitch_deg=-20)
    slope = _Slope(30.0, 120.0, grade)
    uu, vv = np.meshgrid(np.linspace(200, 3800, 5), np.linspace(1500, 3000, 4))
    u, v = uu.ravel(), vv.ravel()
    res = project_pixels(pose, cam, u, v, ground=slope, earth_curvature=curved)
    assert res.valid.all()
    assert res.height_m is not None
    np.testing.assert_allclose(slope.ground_height(res.lat, res.lon), res.height_m, atol=1e-3)
    bu, bv = ground_to_pixel(pose, cam, res.lat, res.lon, res.height_m, earth_curvature=curved)
    np.testing.assert_allclose(bu, u, atol=0.01)
    np.testing.assert_allclose(bv, v, atol=0.01)
    # the image centre on the tangent plane has a closed form: 100 - r tan 20 = grade r
    centre = project_pixel(pose, cam, 2000, 1500, ground=slope, earth_curvature=curved)
    exact = 100.0 / (math.tan(math.radians(20)) + grade)
    assert centre.ground_range_m == pytest.approx(exact, abs=1e-3 if not curved else 0.01)
    # scalar and vectorised agree
    for k in range(0, u.size, 3):
        g = project_pixel(pose, cam, float(u[k]), float(v[k]), ground=slope, earth_curvature=curved)
        assert g.lat == pytest.approx(res.lat[k], abs=1e-12) and g.lon == pytest.approx(res.lon[k], abs=1e-12)


def test_non_bracketable_and_jumping_terrain_are_invalid() -> None:
    cam = CameraIntrinsics(width=4000, height=3000, hfov_deg=70)
    pose = DronePose(lat=30.0, lon=120.0, height_agl_m=100, pitch_deg=-20)
    falling = _Slope(30.0, 120.0, -0.5)  # falls away faster than the ray descends: never met
    res = project_pixels(pose, cam, np.array([2000.0]), np.array([1500.0]), ground=falling)
    assert not res.valid[0] and math.isnan(res.lat[0])
    assert res.status is not None and res.status[0] == TERRAIN_NOT_REACHED
    with pytest.raises(BeyondRangeError, match="no terrain"):
        project_pixel(pose, cam, 2000, 1500, ground=falling)
    step = project_pixels(pose, cam, np.array([2000.0]), np.array([1500.0]), ground=_Step())
    assert not step.valid[0] and step.status is not None and step.status[0] == NOT_CONVERGED
    with pytest.raises(TerrainNotConvergedError, match="converge"):
        project_pixel(pose, cam, 2000, 1500, ground=_Step())


def test_rising_terrain_is_met_above_the_horizon() -> None:
    """A PTZ camera looking 5 degrees up at a hillside: no hit on the reference surface, one on the terrain."""
    cam = CameraIntrinsics(width=1920, height=1080, hfov_deg=60)
    pose = DronePose(lat=30.0, lon=120.0, height_agl_m=10, pitch_deg=5)
    hill = _Slope(30.0, 120.0, 0.5)
    with pytest.raises(AboveHorizonError):
        project_pixel(pose, cam, 960, 540)
    g = project_pixel(pose, cam, 960, 540, ground=hill, earth_curvature=False)
    # 10 + r tan 5 = 0.5 r
    assert g.ground_range_m == pytest.approx(10 / (0.5 - math.tan(math.radians(5))), abs=1e-3)


# --- the curved ground --------------------------------------------------------------------------------------


def _law_of_sines_range(h: float, depression_deg: float, radius: float) -> float:
    """Ground arc to where a ray from height h, ``depression_deg`` below the horizontal, meets a sphere: the
    triangle centre-camera-ground point with the camera angle 90 - depression (independent of geo.projection)."""
    cam_angle = math.radians(90.0 - depression_deg)
    ground_angle = math.pi - math.asin((radius + h) * math.sin(cam_angle) / radius)  # obtuse: the near root
    return radius * (math.pi - cam_angle - ground_angle)


@pytest.mark.parametrize(("distance_m", "flat_short_m"), [(2000.0, 6.3), (5000.0, 102.0)])
@pytest.mark.parametrize("k", [0.0, STANDARD_REFRACTION_K])
def test_curved_ground_matches_the_closed_form(distance_m: float, flat_short_m: float, k: float) -> None:
    """From 100 m up, the ray aimed at a point ``distance_m`` away on the tangent plane meets the sphere farther
    out: 6 m at 2 km and 102 m at 5 km without refraction (the figures of issue 16); k = 0.13 makes the Earth
    look flatter, R / (1 - k)."""
    lat, h = 30.0, 100.0
    depression = math.degrees(math.atan2(h, distance_m))
    cam = CameraIntrinsics(width=4000, height=3000, hfov_deg=70)
    pose = DronePose(lat=lat, lon=120.0, height_agl_m=h, yaw_deg=0.0, pitch_deg=-depression)
    flat = project_pixel(pose, cam, 2000, 1500, earth_curvature=False, max_range_m=20000)
    curved = project_pixel(pose, cam, 2000, 1500, refraction_k=k, max_range_m=20000)
    assert flat.ground_range_m == pytest.approx(distance_m, abs=1e-6)
    e2 = geodesy.WGS84_E2
    meridian = geodesy.WGS84_A * (1 - e2) / (1 - e2 * math.sin(math.radians(lat)) ** 2) ** 1.5
    expected = _law_of_sines_range(h, depression, meridian / (1.0 - k))
    assert curved.ground_range_m == pytest.approx(expected, abs=1e-3)
    if k == 0.0:
        assert curved.ground_range_m - distance_m == pytest.approx(flat_short_m, rel=0.03)
    # and the point is placed that far north on the ellipsoid
    assert distance_m_on_sphere(pose, curved) == pytest.approx(expected, rel=0.005)


def distance_m_on_sphere(pose: DronePose, g: object) -> float:
    return float(distance_m(pose.lon, pose.lat, g.lon, g.lat))  # type: ignore[attr-defined]


def _ellipsoid_hit(pose: DronePose, cam: CameraIntrinsics, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, ...]:
    """Independent check: the ray in ECEF from the camera (on the nadir point's normal at height h) against the
    WGS84 ellipsoid x^2/a^2 + y^2/a^2 + z^2/b^2 = 1, and the hit back to geodetic by fixed-point iteration."""
    a, b, e2 = geodesy.WGS84_A, geodesy.WGS84_B, geodesy.WGS84_E2
    lat, lon = math.radians(pose.lat), math.radians(pose.lon)
    nrad = a / math.sqrt(1 - e2 * math.sin(lat) ** 2)
    c = np.array([(nrad + pose.height_agl_m) * math.cos(lat) * math.cos(lon),
                  (nrad + pose.height_agl_m) * math.cos(lat) * math.sin(lon),
                  (nrad * (1 - e2) + pose.height_agl_m) * math.sin(lat)])
    dn, de, dd = (np.asarray(x) for x in pixel_rays_ned(pose, cam, u, v))
    sl, cl, sp, cp = math.sin(lon), math.cos(lon), math.sin(lat), math.cos(lat)
    dx = -sp * cl * dn - sl * de - cp * cl * dd
    dy = -sp * sl * dn + cl * de - cp * sl * dd
    dz = cp * dn - sp * dd
    qa = (dx**2 + dy**2) / a**2 + dz**2 / b**2
    qb = 2 * ((c[0] * dx + c[1] * dy) / a**2 + c[2] * dz / b**2)
    qc = (c[0] ** 2 + c[1] ** 2) / a**2 + c[2] ** 2 / b**2 - 1
    with np.errstate(invalid="ignore"):  # rays that miss the ellipsoid: NaN, and not compared
        t = (-qb - np.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)
    x, y, z = c[0] + t * dx, c[1] + t * dy, c[2] + t * dz
    p = np.hypot(x, y)
    la = np.arctan2(z, p * (1 - e2))
    for _ in range(8):
        nn = a / np.sqrt(1 - e2 * np.sin(la) ** 2)
        la = np.arctan2(z, p * (1 - e2 * nn / (nn + p / np.cos(la) - nn)))
    return np.degrees(la), np.degrees(np.arctan2(y, x))


def test_14401_random_rays_match_the_ellipsoid_within_007_mm_at_2_km() -> None:
    rng = np.random.default_rng(16)
    cam = CameraIntrinsics(width=4000, height=3000, hfov_deg=70)
    checked = 0
    worst = 0.0
    for i in range(121):
        pose = DronePose(lat=rng.uniform(18, 53), lon=rng.uniform(74, 134), height_agl_m=rng.uniform(20, 300),
                         yaw_deg=rng.uniform(0, 360), pitch_deg=rng.uniform(-90, -3), roll_deg=rng.uniform(-10, 10))
        n = 119 if i < 120 else 121
        u, v = rng.uniform(0, 4000, n), rng.uniform(0, 3000, n)
        res = project_pixels(pose, cam, u, v, refraction_k=0.0, max_range_m=2000)
        lat, lon = _ellipsoid_hit(pose, cam, u, v)
        n1, e1, _ = latlon_to_ned(pose.lat, pose.lon, res.lat[res.valid], res.lon[res.valid])
        n2, e2, _ = latlon_to_ned(pose.lat, pose.lon, lat[res.valid], lon[res.valid])
        checked += int(res.valid.sum())
        if res.valid.any():
            worst = max(worst, float(np.max(np.hypot(n1 - n2, e1 - e2))))
    assert 120 * 119 + 121 == 14401
    assert checked > 10000  # the rest are beyond 2 km or above the horizon
    assert worst < 0.07e-3


def test_upside_down_camera_turns_the_image() -> None:
    cam = CameraIntrinsics(width=4000, height=3000, hfov_deg=70)
    kw = dict(lat=30.0, lon=120.0, height_agl_m=100, yaw_deg=30, pitch_deg=-50, roll_deg=3)
    up = DronePose(**kw)
    down = DronePose(**kw, camera_upside_down=True)
    a = project_pixel(down, cam, 500, 2800)
    b = project_pixel(up, cam, 4000 - 500, 3000 - 2800)
    assert a.lat == pytest.approx(b.lat, abs=1e-12) and a.lon == pytest.approx(b.lon, abs=1e-12)
    assert ground_to_pixel(down, cam, a.lat, a.lon) == pytest.approx((500, 2800), abs=1e-3)
    dji = DronePose.from_dji(30.0, 120.0, 100, 30, -50, 3, gimbal_reverse=True)
    assert dji.camera_upside_down
    both = DronePose.from_dji(30.0, 120.0, 100, 30, -50, 3, gimbal_reverse=True, cam_reverse=True)
    assert not both.camera_upside_down


@pytest.mark.parametrize(("lat", "lon"), [(0.0, 0.0), (-0.0, 0.0), (0.0, -0.0), (1e-9, -1e-9)])
@pytest.mark.parametrize("height", [0.001, 100.0, 5000.0])
def test_zero_zero_position_refused_whatever_the_height(lat: float, lon: float, height: float) -> None:
    with pytest.raises(NoPositionError, match="0,0"):
        DronePose.from_dji(lat, lon, height, 0.0, -90.0)
    with pytest.raises(ValueError, match="0,0"):
        DronePose(lat=lat, lon=lon, height_agl_m=height)
    DronePose(lat=0.0, lon=0.001, height_agl_m=height)  # on the equator, 111 m east: a place


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
