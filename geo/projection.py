"""Pixel (u, v) -> WGS84 ground point from a drone/PTZ camera pose, on flat ground (or a DEM hook).

Conventions (exactly these, no hidden frame flips; tests/geo/test_geo_projection.py pins them):

* world: local NED tangent frame at the camera (x north, y east, z down);
* attitude: DJI XMP gimbal angles, NED, intrinsic Z-Y'-X'': ``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)``;
  yaw clockwise from north, pitch 0 = horizontal and -90 = nadir, roll > 0 = right side down;
* camera: OpenCV pinhole (x right, y down, z forward), ``d_body = M @ d_cam``,
  ``M = [[0,0,1],[1,0,0],[0,1,0]]``; pixel coordinates are continuous (pixel i has its centre at i+0.5);
* ground hit: ``t = h / d.z`` (refused when ``d.z <= 0``: at or above the horizon);
* local offset -> lat/lon: tangent plane -> ECEF -> geodetic (agrees with the geodesic direct
  problem to < 0.001 mm at drone ranges), so no pyproj is needed and it vectorises; the ellipsoid is
  :mod:`geo.geodesy`'s.

The inputs (``CameraIntrinsics``, ``DronePose``, ``ErrorModel``, the ``GroundModel`` hook) are defined in
:mod:`geo.camera`; this module holds the projection math only.

The error radius is a first-order 1-sigma budget: yaw error moves the point
sideways by ``range * sigma_yaw``; pitch error along the ray by ``h * sigma_pitch / sin^2(grazing)``;
a height error by ``sigma_h / tan(grazing)``; plus the pose's own horizontal position error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from geo.camera import CameraIntrinsics, DronePose, ErrorModel, FlatGround, GroundModel
from geo.geodesy import WGS84_A, WGS84_B, WGS84_E2

_EP2 = (WGS84_A**2 - WGS84_B**2) / WGS84_B**2  # second eccentricity squared (Bowring's formula)

# d_body = M @ d_cam
M_BODY_FROM_CAM = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


class ProjectionError(ValueError):
    """Base class: a pixel cannot be turned into a ground point."""


class AboveHorizonError(ProjectionError):
    """The pixel's ray points at or above the horizon, so it never meets the ground."""


class BeyondRangeError(ProjectionError):
    """The ray meets the ground farther than ``max_range_m`` (near-horizon rays blow up)."""


class TerrainNotConvergedError(ProjectionError):
    """The DEM fixed-point iteration did not converge (terrain steeper than the ray)."""




@dataclass(frozen=True, slots=True)
class GroundPoint:
    """One projected pixel."""

    lat: float
    lon: float
    north_m: float
    east_m: float
    ground_range_m: float
    slant_range_m: float
    azimuth_deg: float
    grazing_deg: float  # angle of the ray below the horizontal
    error_m: float  # 1-sigma horizontal error radius estimate


@dataclass(frozen=True, slots=True)
class ProjectedPixels:
    """Vectorised result; rows where ``valid`` is False (at/above horizon, beyond range) are NaN."""

    lat: np.ndarray
    lon: np.ndarray
    north_m: np.ndarray
    east_m: np.ndarray
    error_m: np.ndarray
    valid: np.ndarray


def rotation_ned_from_body(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """``Rz(yaw) @ Ry(pitch) @ Rx(roll)`` (intrinsic Z-Y'-X'')."""
    y, p, r = (math.radians(a) for a in (yaw_deg, pitch_deg, roll_deg))
    cy, sy, cp, sp, cr, sr = math.cos(y), math.sin(y), math.cos(p), math.sin(p), math.cos(r), math.sin(r)
    rz = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]])
    return rz @ ry @ rx


def rotation_ned_from_cam(pose: DronePose) -> np.ndarray:
    """Camera (OpenCV) frame to NED: ``R_ned_from_body @ M``."""
    return rotation_ned_from_body(pose.yaw_deg, pose.pitch_deg, pose.roll_deg) @ M_BODY_FROM_CAM


def pixel_rays_ned(pose: DronePose, cam: CameraIntrinsics, u: Any, v: Any) -> tuple[Any, Any, Any]:
    """Unnormalised NED ray directions (dn, de, dd) for pixels (u, v)."""
    k = rotation_ned_from_cam(pose)
    x = (np.asarray(u, dtype=np.float64) - cam.cx) / cam.fx
    y = (np.asarray(v, dtype=np.float64) - cam.cy) / cam.fy
    dn = k[0, 0] * x + k[0, 1] * y + k[0, 2]
    de = k[1, 0] * x + k[1, 1] * y + k[1, 2]
    dd = k[2, 0] * x + k[2, 1] * y + k[2, 2]
    return dn, de, dd


# --- tangent plane <-> geodetic (vectorised) -------------------------------------------------------


def _ecef(lat_rad: Any, lon_rad: Any, h: Any) -> tuple[Any, Any, Any]:
    s = np.sin(lat_rad)
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * s * s)
    c = np.cos(lat_rad)
    return (n + h) * c * np.cos(lon_rad), (n + h) * c * np.sin(lon_rad), (n * (1.0 - WGS84_E2) + h) * s


def ned_to_latlon(lat0: float, lon0: float, north: Any, east: Any, down: Any = 0.0) -> tuple[Any, Any]:
    """Offset (metres, NED at (lat0, lon0, h=0)) -> WGS84 lat, lon via ECEF (Bowring's formula)."""
    phi, lam = math.radians(lat0), math.radians(lon0)
    sphi, cphi, slam, clam = math.sin(phi), math.cos(phi), math.sin(lam), math.cos(lam)
    x0, y0, z0 = _ecef(phi, lam, 0.0)
    n = np.asarray(north, dtype=np.float64)
    e = np.asarray(east, dtype=np.float64)
    up = -np.asarray(down, dtype=np.float64)
    x = x0 - slam * e - sphi * clam * n + cphi * clam * up
    y = y0 + clam * e - sphi * slam * n + cphi * slam * up
    z = z0 + cphi * n + sphi * up
    p = np.hypot(x, y)
    theta = np.arctan2(z * WGS84_A, p * WGS84_B)
    st, ct = np.sin(theta), np.cos(theta)
    lat = np.arctan2(z + _EP2 * WGS84_B * st**3, p - WGS84_E2 * WGS84_A * ct**3)
    lon = np.arctan2(y, x)
    return np.degrees(lat), np.degrees(lon)


def latlon_to_ned(lat0: float, lon0: float, lat: Any, lon: Any, h: Any = 0.0) -> tuple[Any, Any, Any]:
    """WGS84 point -> NED offset (north, east, down) from (lat0, lon0, h=0) on the tangent plane."""
    phi, lam = math.radians(lat0), math.radians(lon0)
    sphi, cphi, slam, clam = math.sin(phi), math.cos(phi), math.sin(lam), math.cos(lam)
    x0, y0, z0 = _ecef(phi, lam, 0.0)
    x, y, z = _ecef(np.radians(np.asarray(lat, dtype=np.float64)), np.radians(np.asarray(lon, dtype=np.float64)), h)
    dx, dy, dz = x - x0, y - y0, z - z0
    east = -slam * dx + clam * dy
    north = -sphi * clam * dx - sphi * slam * dy + cphi * dz
    up = cphi * clam * dx + cphi * slam * dy + sphi * dz
    return north, east, -up


# --- projection --------------------------------------------------------------------------------------


def _error_radius(h: Any, ground_range: Any, grazing_rad: Any, em: ErrorModel) -> Any:
    s = np.sin(grazing_rad)
    t = np.tan(grazing_rad)
    yaw_term = ground_range * math.radians(em.sigma_yaw_deg)
    pitch_term = h * math.radians(em.sigma_pitch_deg) / (s * s)
    height_term = em.sigma_height_m / t
    return np.sqrt(yaw_term**2 + pitch_term**2 + height_term**2 + em.sigma_position_m**2)


def project_pixel(
    pose: DronePose,
    cam: CameraIntrinsics,
    u: float,
    v: float,
    *,
    ground: GroundModel | None = None,
    max_range_m: float = 5000.0,
    error_model: ErrorModel | None = None,
    terrain_tol_m: float = 0.1,
    terrain_max_iter: int = 30,
) -> GroundPoint:
    """Project one pixel to the ground.

    Raises :class:`AboveHorizonError` when the ray does not descend, :class:`BeyondRangeError`
    past ``max_range_m`` (flat-earth and error blow-up), :class:`TerrainNotConvergedError` when
    a DEM iteration fails.
    """
    dn, de, dd = (float(a) for a in pixel_rays_ned(pose, cam, u, v))
    horiz = math.hypot(dn, de)
    if dd <= 1e-12 * max(1.0, horiz):
        raise AboveHorizonError(
            f"pixel ({u}, {v}) looks at or above the horizon (ray NED = {dn:.6f}, {de:.6f}, {dd:.6f}); "
            "no ground intersection"
        )
    h = pose.height_agl_m
    if ground is not None and not isinstance(ground, FlatGround):
        h = _terrain_height(pose, ground, dn, de, dd, terrain_tol_m, terrain_max_iter, max_range_m)
    t = h / dd
    north, east = t * dn, t * de
    rng = t * horiz
    if rng > max_range_m:
        raise BeyondRangeError(f"ground point {rng:.0f} m away exceeds max_range_m={max_range_m:.0f}")
    lat, lon = ned_to_latlon(pose.lat, pose.lon, north, east)
    grazing = math.atan2(dd, horiz)
    em = error_model or ErrorModel()
    return GroundPoint(
        lat=float(lat),
        lon=float(lon),
        north_m=north,
        east_m=east,
        ground_range_m=rng,
        slant_range_m=t * math.sqrt(dn * dn + de * de + dd * dd),
        azimuth_deg=math.degrees(math.atan2(east, north)) % 360.0 if rng > 0 else 0.0,
        grazing_deg=math.degrees(grazing),
        error_m=float(_error_radius(h, rng, grazing, em)),
    )


def _terrain_height(
    pose: DronePose,
    ground: GroundModel,
    dn: float,
    de: float,
    dd: float,
    tol: float,
    max_iter: int,
    max_rng: float,
) -> float:
    """Fixed point: ``h_{k+1} = cam_h - elev(P_k)``; converges when terrain is shallower than the ray."""
    h = pose.height_agl_m - float(ground.ground_height(pose.lat, pose.lon))
    prev: tuple[float, float] | None = None
    for _ in range(max_iter):
        if h <= 0:
            raise TerrainNotConvergedError("camera is at or below the terrain along the ray")
        t = h / dd
        n, e = t * dn, t * de
        if math.hypot(n, e) > max_rng:
            raise BeyondRangeError(f"terrain iteration left max_range_m={max_rng:.0f}")
        if prev is not None and math.hypot(n - prev[0], e - prev[1]) < tol:
            return h
        prev = (n, e)
        lat, lon = ned_to_latlon(pose.lat, pose.lon, n, e)
        h = pose.height_agl_m - float(ground.ground_height(float(lat), float(lon)))
    raise TerrainNotConvergedError(f"no convergence in {max_iter} iterations (terrain steeper than the ray?)")


def box_ground_contact(x_min: float, y_min: float, x_max: float, y_max: float) -> tuple[float, float]:
    """The pixel to project for a detection box: bottom-centre (the ground contact of people/carts)."""
    return (x_min + x_max) / 2.0, y_max


def project_box(
    pose: DronePose, cam: CameraIntrinsics, box: tuple[float, float, float, float], **kw: Any
) -> GroundPoint:
    """Project a detection box ``(x_min, y_min, x_max, y_max)`` by its bottom-centre."""
    u, v = box_ground_contact(*box)
    return project_pixel(pose, cam, u, v, **kw)


def project_pixels(
    pose: DronePose,
    cam: CameraIntrinsics,
    u: Any,
    v: Any,
    *,
    ground: GroundModel | None = None,
    max_range_m: float = 5000.0,
    error_model: ErrorModel | None = None,
    terrain_iter: int = 8,
) -> ProjectedPixels:
    """Vectorised :func:`project_pixel` for arrays of pixels of one frame; never raises per pixel.

    Invalid pixels (at/above horizon, beyond range, camera below terrain) get NaN and ``valid=False``.
    With a non-flat ground model a fixed number of fixed-point iterations is run.
    """
    dn, de, dd = pixel_rays_ned(pose, cam, u, v)
    dn, de, dd = np.atleast_1d(dn), np.atleast_1d(de), np.atleast_1d(dd)
    horiz = np.hypot(dn, de)
    valid = dd > 1e-12 * np.maximum(1.0, horiz)
    safe_dd = np.where(valid, dd, 1.0)
    h: Any = pose.height_agl_m
    if ground is not None and not isinstance(ground, FlatGround):
        h = np.full(dn.shape, pose.height_agl_m - float(ground.ground_height(pose.lat, pose.lon)))
        for _ in range(terrain_iter):
            t = np.where(h > 0, h, np.nan) / safe_dd
            la, lo = ned_to_latlon(pose.lat, pose.lon, t * dn, t * de)
            h = pose.height_agl_m - np.asarray(ground.ground_height(la, lo), dtype=float)
        valid &= h > 0
    t = h / safe_dd
    north = t * dn
    east = t * de
    rng = t * horiz
    valid &= rng <= max_range_m
    north = np.where(valid, north, np.nan)
    east = np.where(valid, east, np.nan)
    lat, lon = ned_to_latlon(pose.lat, pose.lon, north, east)
    grazing = np.arctan2(safe_dd, horiz)
    err = np.where(valid, _error_radius(h, rng, grazing, error_model or ErrorModel()), np.nan)
    return ProjectedPixels(lat=lat, lon=lon, north_m=north, east_m=east, error_m=err, valid=valid)


def ground_to_pixel(
    pose: DronePose, cam: CameraIntrinsics, lat: Any, lon: Any, ground_height_m: Any = 0.0
) -> tuple[Any, Any]:
    """Inverse projection: WGS84 ground point(s) -> pixel (u, v); NaN where behind the camera."""
    n, e, _ = latlon_to_ned(pose.lat, pose.lon, lat, lon)
    d = pose.height_agl_m - np.asarray(ground_height_m, dtype=np.float64)
    k = rotation_ned_from_cam(pose)  # cam -> ned; transpose is ned -> cam
    xc = k[0, 0] * n + k[1, 0] * e + k[2, 0] * d
    yc = k[0, 1] * n + k[1, 1] * e + k[2, 1] * d
    zc = k[0, 2] * n + k[1, 2] * e + k[2, 2] * d
    zc = np.where(zc > 0, zc, np.nan)
    u = cam.fx * xc / zc + cam.cx
    v = cam.fy * yc / zc + cam.cy
    if np.ndim(u) == 0:
        return float(u), float(v)
    return u, v
