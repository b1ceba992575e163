"""Pixel (u, v) -> WGS84 ground point from a drone/PTZ camera pose, on the curved ground (or a terrain model).

Conventions (exactly these, no hidden frame flips; tests/geo/test_geo_projection.py pins them):

* world: local NED tangent frame at the camera (x north, y east, z down);
* attitude: DJI XMP gimbal angles, NED, intrinsic Z-Y'-X'': ``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)``;
  yaw clockwise from north, pitch 0 = horizontal and -90 = nadir, roll > 0 = right side down;
* camera: OpenCV pinhole (x right, y down, z forward), ``d_body = M @ d_cam``,
  ``M = [[0,0,1],[1,0,0],[0,1,0]]``; pixel coordinates are continuous (pixel i has its centre at i+0.5);
  a camera flagged ``camera_upside_down`` (DJI GimbalReverse/CamReverse) has its image turned 180 degrees:
  ``d_cam -> (-x, -y, z)``;
* ground: the reference surface ``height_agl_m`` below the camera is curved. Each ray meets a sphere whose
  radius is the ellipsoid's radius of curvature in the ray's azimuth at the camera (Euler's formula), enlarged
  to ``R / (1 - k)`` for atmospheric refraction (standard coefficient k = 0.13, ``refraction_k``; 0 turns it
  off). The ground distance along that sphere is the distance along the Earth (the usual refraction
  equivalence), and the point is placed at that arc along the azimuth. The tangent plane (``t = h / d.z``), which
  is 6 m short at 2 km and 102 m at 5 km from 100 m up, is kept as ``earth_curvature=False`` because the
  shared known-answer vectors are defined on it;
* terrain (a :class:`GroundModel` other than flat): the first root of ``f(t) = H(t) - terrain(lat(t), lon(t))``
  along the ray, ``H`` the ray's height above the reference surface, bracketed by stepping ``terrain_step_m``
  along the ray from the camera to the range limit and then bisected; a point is valid only when the bisection
  converged to ``|f| <= terrain_tol_m``. Rays above the horizon may still meet rising terrain;
* local offset -> lat/lon: tangent plane -> ECEF -> geodetic (agrees with the geodesic direct problem to
  < 0.001 mm at drone ranges), so no pyproj is needed and it vectorises; the ellipsoid is :mod:`geo.geodesy`'s.

The inputs (``CameraIntrinsics``, ``DronePose``, ``ErrorModel``, the ``GroundModel`` hook) are defined in
:mod:`geo.camera`; this module holds the projection math only. ``project_pixel`` and ``project_pixels`` share
one vectorised core, so they agree.

The error radius is a first-order 1-sigma budget: yaw error moves the point sideways by ``range * sigma_yaw``;
pitch error along the ray by ``h * sigma_pitch / sin^2(grazing)``; a height error by ``sigma_h / tan(grazing)``;
a refraction error by ``sigma_k * d^2 / (2R) / tan(grazing)``; plus the pose's own horizontal position error.
``grazing`` is the ray's angle below the local horizontal at the ground point.
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
# The image turned 180 degrees about the optical axis (DJI GimbalReverse / CamReverse).
_UPSIDE_DOWN = np.diag([-1.0, -1.0, 1.0])

STANDARD_REFRACTION_K = 0.13  # coefficient of terrestrial refraction (geodetic convention, Gauss)
DEFAULT_MAX_RANGE_M = 5000.0
# Terrain lower than this below the reference surface is not searched for (the deepest dry land is -430 m).
_TERRAIN_FLOOR_M = -1000.0
_STEPS_PER_CHUNK = 64

# ProjectedPixels.status codes
OK = 0
ABOVE_HORIZON = 1
BEYOND_RANGE = 2
CAMERA_BELOW_TERRAIN = 3
TERRAIN_NOT_REACHED = 4
NOT_CONVERGED = 5
STATUS_REASONS = {
    OK: "ok",
    ABOVE_HORIZON: "above_horizon",
    BEYOND_RANGE: "beyond_range",
    CAMERA_BELOW_TERRAIN: "camera_below_terrain",
    TERRAIN_NOT_REACHED: "terrain_not_reached",
    NOT_CONVERGED: "not_converged",
}


class ProjectionError(ValueError):
    """Base class: a pixel cannot be turned into a ground point."""


class AboveHorizonError(ProjectionError):
    """The pixel's ray points at or above the horizon, so it never meets the ground."""


class BeyondRangeError(ProjectionError):
    """The ray meets the ground farther than ``max_range_m`` (near-horizon rays blow up), or meets no terrain
    within it."""


class TerrainNotConvergedError(ProjectionError):
    """The terrain intersection failed: the camera is at or below the terrain, or the root-find did not converge
    (a terrain model that jumps across the ray)."""


@dataclass(frozen=True, slots=True)
class GroundPoint:
    """One projected pixel. ``north_m``/``east_m`` are the ground distance split by azimuth (on the tangent plane
    when ``earth_curvature=False``); ``height_m`` is the terrain height at the point above the reference surface."""

    lat: float
    lon: float
    north_m: float
    east_m: float
    ground_range_m: float
    slant_range_m: float
    azimuth_deg: float
    grazing_deg: float  # angle of the ray below the local horizontal at the ground point
    error_m: float  # 1-sigma horizontal error radius estimate
    height_m: float = 0.0


@dataclass(frozen=True, slots=True)
class ProjectedPixels:
    """Vectorised result; rows where ``valid`` is False are NaN and ``status`` says why (:data:`STATUS_REASONS`)."""

    lat: np.ndarray
    lon: np.ndarray
    north_m: np.ndarray
    east_m: np.ndarray
    error_m: np.ndarray
    valid: np.ndarray
    ground_range_m: np.ndarray | None = None
    slant_range_m: np.ndarray | None = None
    grazing_deg: np.ndarray | None = None
    height_m: np.ndarray | None = None
    status: np.ndarray | None = None


def rotation_ned_from_body(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """``Rz(yaw) @ Ry(pitch) @ Rx(roll)`` (intrinsic Z-Y'-X'')."""
    y, p, r = (math.radians(a) for a in (yaw_deg, pitch_deg, roll_deg))
    cy, sy, cp, sp, cr, sr = math.cos(y), math.sin(y), math.cos(p), math.sin(p), math.cos(r), math.sin(r)
    rz = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]])
    return rz @ ry @ rx


def rotation_ned_from_cam(pose: DronePose) -> np.ndarray:
    """Camera (OpenCV) frame to NED: ``R_ned_from_body @ M`` (then the 180-degree turn of an upside-down camera)."""
    r = rotation_ned_from_body(pose.yaw_deg, pose.pitch_deg, pose.roll_deg) @ M_BODY_FROM_CAM
    return r @ _UPSIDE_DOWN if pose.camera_upside_down else r


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


def radius_of_curvature_m(lat: float, azimuth_rad: Any) -> Any:
    """The ellipsoid's normal-section radius of curvature at ``lat`` in the azimuth (Euler's formula)."""
    s = math.sin(math.radians(lat))
    w = 1.0 - WGS84_E2 * s * s
    meridian = WGS84_A * (1.0 - WGS84_E2) / w**1.5
    prime_vertical = WGS84_A / math.sqrt(w)
    c2 = np.cos(azimuth_rad) ** 2
    return 1.0 / (c2 / meridian + (1.0 - c2) / prime_vertical)


# --- the ray model -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rays:
    """Unit rays of one frame and the surface each is measured against."""

    dn: np.ndarray
    de: np.ndarray
    dd: np.ndarray
    horiz: np.ndarray
    azimuth: np.ndarray  # radians, clockwise from north
    h: float  # camera height above the reference surface
    radius: np.ndarray | None  # effective (refraction-enlarged) sphere radius per ray; None on the tangent plane
    true_radius: np.ndarray | None  # the Earth's radius of curvature per ray

    def height(self, t: Any) -> Any:
        """Height of the ray point at slant distance ``t`` above the reference surface."""
        if self.radius is None:
            return self.h - t * self.dd
        r = self.radius
        rho = t * self.horiz
        below = self.h - t * self.dd
        # |P|^2 - R^2 over |P| + R, without the cancellation of sqrt(...) - R
        num = rho * rho + below * (2.0 * r + below)
        return num / (np.sqrt(rho * rho + (r + below) ** 2) + r)

    def ground_range(self, t: Any) -> Any:
        """Ground distance from the camera's nadir to the point under the ray at ``t``."""
        if self.radius is None:
            return t * self.horiz
        r = self.radius
        return r * np.arctan2(t * self.horiz, r + self.h - t * self.dd)

    def t_at_range(self, s: float) -> np.ndarray:
        """Slant distance at which the ray's ground range reaches ``s`` (inf if it never does)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.radius is None:
                t = np.where(self.horiz > 0, s / self.horiz, np.inf)
            else:
                r = self.radius
                tg = np.tan(s / r)  # s / r is far below pi / 2 for any range on Earth
                den = self.horiz + tg * self.dd
                t = np.where(den > 0, tg * (r + self.h) / den, np.inf)
        return t

    def grazing(self, t: Any) -> Any:
        """Angle (radians) of the ray below the local horizontal at the point ``t``."""
        if self.radius is None:
            return np.arctan2(self.dd, self.horiz)
        r = self.radius
        rho = t * self.horiz
        z = r + self.h - t * self.dd
        sin_g = (self.dd * z - rho * self.horiz) / np.sqrt(rho * rho + z * z)
        return np.arcsin(np.clip(sin_g, -1.0, 1.0))

    def place(self, pose: DronePose, s: Any) -> tuple[Any, Any, Any, Any]:
        """(lat, lon, north, east) of the ground point at ground range ``s`` along each ray's azimuth."""
        ca, sa = np.cos(self.azimuth), np.sin(self.azimuth)
        if self.true_radius is None:
            north, east = s * ca, s * sa
            lat, lon = ned_to_latlon(pose.lat, pose.lon, north, east)
            return lat, lon, north, east
        r = self.true_radius
        g = s / r
        lat, lon = ned_to_latlon(pose.lat, pose.lon, r * np.sin(g) * ca, r * np.sin(g) * sa, r * (1.0 - np.cos(g)))
        return lat, lon, s * ca, s * sa


def _rays(
    pose: DronePose, cam: CameraIntrinsics, u: Any, v: Any, earth_curvature: bool, refraction_k: float
) -> _Rays:
    if not 0.0 <= refraction_k < 1.0:
        raise ValueError(f"refraction_k {refraction_k} is outside [0, 1)")
    dn, de, dd = (np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in pixel_rays_ned(pose, cam, u, v))
    norm = np.sqrt(dn * dn + de * de + dd * dd)
    dn, de, dd = dn / norm, de / norm, dd / norm
    horiz = np.hypot(dn, de)
    azimuth = np.arctan2(de, dn)
    true_r = radius_of_curvature_m(pose.lat, azimuth) if earth_curvature else None
    eff_r = true_r / (1.0 - refraction_k) if true_r is not None else None
    return _Rays(dn, de, dd, horiz, azimuth, pose.height_agl_m, eff_r, true_r)


def _flat_hit(rays: _Rays) -> tuple[np.ndarray, np.ndarray]:
    """Slant distance to the reference surface (closed form) and whether the ray meets it."""
    dd, h = rays.dd, rays.h
    if rays.radius is None:
        hits = dd > 1e-12 * np.maximum(1.0, rays.horiz)
        return np.where(hits, h / np.where(hits, dd, 1.0), np.nan), hits
    r = rays.radius
    # |c + t d| = R with the camera at R + h on the sphere's axis: t^2 - 2 t dd (R + h) + h (2R + h) = 0
    b = dd * (r + h)
    c = h * (2.0 * r + h)
    disc = b * b - c
    hits = (dd > 0) & (disc >= 0)
    root = b + np.sqrt(np.where(hits, disc, 0.0))
    return np.where(hits, c / np.where(hits, root, 1.0), np.nan), hits


def _astuple(r: _Rays) -> tuple[Any, ...]:
    return (r.dn, r.de, r.dd, r.horiz, r.azimuth, r.h, r.radius, r.true_radius)


def _sub(rays: _Rays, idx: np.ndarray) -> _Rays:
    """The rays ``idx`` (an index or boolean array)."""
    return _Rays(*(a[idx] if isinstance(a, np.ndarray) else a for a in _astuple(rays)))


def _column(rays: _Rays) -> _Rays:
    """The rays as a column, to evaluate many points along each at once."""
    return _Rays(*(a[:, None] if isinstance(a, np.ndarray) else a for a in _astuple(rays)))


def _terrain_under(rays: _Rays, pose: DronePose, ground: GroundModel, t: np.ndarray) -> np.ndarray:
    """Terrain height under the ray points ``t`` (any shape broadcasting with the rays)."""
    lat, lon, _, _ = rays.place(pose, rays.ground_range(t))
    shape = np.shape(lat)
    gh = np.asarray(ground.ground_height(np.ravel(lat), np.ravel(lon)), dtype=np.float64)
    return gh.reshape(shape) if gh.ndim else np.full(shape, float(gh))


def _terrain_hit(
    rays: _Rays,
    pose: DronePose,
    ground: GroundModel,
    max_range_m: float,
    step_m: float,
    tol_m: float,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray]:
    """First root of f(t) = H(t) - terrain(t) on (0, t_max]: bracket by stepping, then bisect. Returns (t, status)."""
    n = rays.dn.size
    t_out = np.full(n, np.nan)
    status = np.full(n, TERRAIN_NOT_REACHED, dtype=np.int8)
    h0 = rays.h - float(np.asarray(ground.ground_height(pose.lat, pose.lon), dtype=float))
    if h0 <= 0:
        status[:] = CAMERA_BELOW_TERRAIN
        return t_out, status
    t_max = rays.t_at_range(max_range_m)
    # no terrain is looked for deeper than _TERRAIN_FLOOR_M: bounds the search of steep and nadir rays
    with np.errstate(divide="ignore"):
        t_floor = np.where(rays.dd > 0, (rays.h - _TERRAIN_FLOOR_M) / np.where(rays.dd > 0, rays.dd, 1.0), np.inf)
    t_max = np.minimum(t_max, t_floor * 1.01 + step_m)
    # A ray that rises out of range before meeting anything stays TERRAIN_NOT_REACHED.
    lo = np.zeros(n)
    f_lo = np.full(n, h0)
    lo_b = np.full(n, np.nan)
    hi_b = np.full(n, np.nan)
    active = np.arange(n)
    k0 = 0
    while active.size:
        ks = np.arange(k0 + 1, k0 + 1 + _STEPS_PER_CHUNK, dtype=np.float64)
        wide = _column(_sub(rays, active))
        tt = np.minimum(ks[None, :] * step_m, t_max[active][:, None])
        f = wide.height(tt) - _terrain_under(wide, pose, ground, tt)
        prev = np.concatenate([f_lo[active][:, None], f[:, :-1]], axis=1)
        crossing = (prev > 0) & (f <= 0)
        found = crossing.any(axis=1)
        first = np.argmax(crossing, axis=1)
        rows = np.nonzero(found)[0]
        idx = active[rows]
        j = first[rows]
        hi_b[idx] = tt[rows, j]
        lo_b[idx] = np.where(j > 0, tt[rows, np.maximum(j - 1, 0)], lo[idx])
        status[idx] = NOT_CONVERGED
        exhausted = tt[:, -1] >= t_max[active]
        keep = ~found & ~exhausted
        lo[active[keep]] = tt[keep, -1]
        f_lo[active[keep]] = f[keep, -1]
        active = active[keep]
        k0 += _STEPS_PER_CHUNK
    br = np.nonzero(status == NOT_CONVERGED)[0]
    if br.size:
        a, b = lo_b[br], hi_b[br]
        sub = _sub(rays, br)
        for _ in range(max_iter):
            mid = 0.5 * (a + b)
            fm = sub.height(mid) - _terrain_under(sub, pose, ground, mid)
            above = fm > 0
            a = np.where(above, mid, a)
            b = np.where(above, b, mid)
            if float(np.max(b - a)) < 1e-6:
                break
        t = 0.5 * (a + b)
        resid = sub.height(t) - _terrain_under(sub, pose, ground, t)
        ok = np.abs(resid) <= tol_m
        t_out[br] = t
        status[br] = np.where(ok, OK, NOT_CONVERGED)
    return t_out, status


def _error_radius(h: Any, ground_range: Any, grazing_rad: Any, em: ErrorModel, radius: Any) -> Any:
    s = np.sin(grazing_rad)
    t = np.tan(grazing_rad)
    yaw_term = ground_range * math.radians(em.sigma_yaw_deg)
    pitch_term = h * math.radians(em.sigma_pitch_deg) / (s * s)
    height_term = em.sigma_height_m / t
    refraction_term = em.sigma_refraction_k * ground_range**2 / (2.0 * radius) / t
    return np.sqrt(yaw_term**2 + pitch_term**2 + height_term**2 + refraction_term**2 + em.sigma_position_m**2)


def _project(
    pose: DronePose,
    cam: CameraIntrinsics,
    u: Any,
    v: Any,
    ground: GroundModel | None,
    max_range_m: float,
    error_model: ErrorModel | None,
    earth_curvature: bool,
    refraction_k: float,
    terrain_step_m: float,
    terrain_tol_m: float,
    terrain_max_iter: int,
) -> ProjectedPixels:
    rays = _rays(pose, cam, u, v, earth_curvature, refraction_k)
    n = rays.dn.size
    height = np.zeros(n)
    if ground is None or isinstance(ground, FlatGround):
        t, hits = _flat_hit(rays)
        status = np.where(hits, OK, ABOVE_HORIZON).astype(np.int8)
    else:
        if terrain_step_m <= 0:
            raise ValueError(f"terrain_step_m must be > 0, got {terrain_step_m}")
        t, status = _terrain_hit(rays, pose, ground, max_range_m, terrain_step_m, terrain_tol_m, terrain_max_iter)
        _, meets = _flat_hit(rays)
        status = np.where((status == TERRAIN_NOT_REACHED) & ~meets, ABOVE_HORIZON, status).astype(np.int8)
        done = status == OK
        height[done] = _sub(rays, done).height(t[done])
    ok = status == OK
    t_safe = np.where(ok, t, 0.0)
    rng = rays.ground_range(t_safe)
    beyond = ok & (rng > max_range_m)
    status = np.where(beyond, BEYOND_RANGE, status).astype(np.int8)
    valid = status == OK
    lat, lon, north, east = rays.place(pose, np.where(valid, rng, np.nan))
    grazing = rays.grazing(t_safe)
    radius = rays.radius if rays.radius is not None else np.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        err = _error_radius(rays.h - height, rng, grazing, error_model or ErrorModel(), radius)
    nan = np.nan
    return ProjectedPixels(
        lat=np.where(valid, lat, nan),
        lon=np.where(valid, lon, nan),
        north_m=np.where(valid, north, nan),
        east_m=np.where(valid, east, nan),
        error_m=np.where(valid, err, nan),
        valid=valid,
        ground_range_m=np.where(valid, rng, nan),
        slant_range_m=np.where(valid, t_safe, nan),
        grazing_deg=np.where(valid, np.degrees(grazing), nan),
        height_m=np.where(valid, height, nan),
        status=status,
    )


def project_pixel(
    pose: DronePose,
    cam: CameraIntrinsics,
    u: float,
    v: float,
    *,
    ground: GroundModel | None = None,
    max_range_m: float = DEFAULT_MAX_RANGE_M,
    error_model: ErrorModel | None = None,
    earth_curvature: bool = True,
    refraction_k: float = STANDARD_REFRACTION_K,
    terrain_step_m: float = 5.0,
    terrain_tol_m: float = 0.001,
    terrain_max_iter: int = 60,
) -> GroundPoint:
    """Project one pixel to the ground (the one-pixel case of :func:`project_pixels`).

    Raises :class:`AboveHorizonError` when the ray does not meet the ground, :class:`BeyondRangeError`
    past ``max_range_m`` (or no terrain within it), :class:`TerrainNotConvergedError` when the camera is at or
    below the terrain or the root-find did not converge.
    """
    r = _project(pose, cam, u, v, ground, max_range_m, error_model, earth_curvature, refraction_k,
                 terrain_step_m, terrain_tol_m, terrain_max_iter)
    assert r.status is not None and r.ground_range_m is not None and r.slant_range_m is not None
    code = int(r.status[0])
    if code == ABOVE_HORIZON:
        dn, de, dd = (float(np.ravel(a)[0]) for a in pixel_rays_ned(pose, cam, u, v))
        raise AboveHorizonError(
            f"pixel ({u}, {v}) looks at or above the horizon (ray NED = {dn:.6f}, {de:.6f}, {dd:.6f}); "
            "no ground intersection"
        )
    if code == BEYOND_RANGE:
        rays = _rays(pose, cam, u, v, earth_curvature, refraction_k)
        t, _ = _flat_hit(rays) if ground is None or isinstance(ground, FlatGround) else (None, None)
        far = f"{float(rays.ground_range(t)[0]):.0f} m away " if t is not None else ""
        raise BeyondRangeError(f"ground point {far}exceeds max_range_m={max_range_m:.0f}")
    if code == TERRAIN_NOT_REACHED:
        raise BeyondRangeError(f"the ray meets no terrain within max_range_m={max_range_m:.0f}")
    if code == CAMERA_BELOW_TERRAIN:
        raise TerrainNotConvergedError("camera is at or below the terrain along the ray")
    if code == NOT_CONVERGED:
        raise TerrainNotConvergedError(
            f"the terrain intersection did not converge to {terrain_tol_m} m (terrain model jumps across the ray?)"
        )
    assert r.grazing_deg is not None and r.height_m is not None
    rng = float(r.ground_range_m[0])
    north, east = float(r.north_m[0]), float(r.east_m[0])
    return GroundPoint(
        lat=float(r.lat[0]),
        lon=float(r.lon[0]),
        north_m=north,
        east_m=east,
        ground_range_m=rng,
        slant_range_m=float(r.slant_range_m[0]),
        azimuth_deg=math.degrees(math.atan2(east, north)) % 360.0 if rng > 0 else 0.0,
        grazing_deg=float(r.grazing_deg[0]),
        error_m=float(r.error_m[0]),
        height_m=float(r.height_m[0]),
    )


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
    max_range_m: float = DEFAULT_MAX_RANGE_M,
    error_model: ErrorModel | None = None,
    earth_curvature: bool = True,
    refraction_k: float = STANDARD_REFRACTION_K,
    terrain_step_m: float = 5.0,
    terrain_tol_m: float = 0.001,
    terrain_max_iter: int = 60,
    terrain_iter: int | None = None,
) -> ProjectedPixels:
    """Vectorised :func:`project_pixel` for arrays of pixels of one frame; never raises per pixel.

    Invalid pixels (above the horizon, beyond range, camera below terrain, no terrain within range, root-find not
    converged) get NaN, ``valid=False`` and their ``status`` code. ``terrain_iter`` is the old name of
    ``terrain_max_iter``.
    """
    return _project(pose, cam, u, v, ground, max_range_m, error_model, earth_curvature, refraction_k,
                    terrain_step_m, terrain_tol_m, terrain_iter if terrain_iter is not None else terrain_max_iter)


def ground_to_pixel(
    pose: DronePose,
    cam: CameraIntrinsics,
    lat: Any,
    lon: Any,
    ground_height_m: Any = 0.0,
    *,
    earth_curvature: bool = True,
    refraction_k: float = STANDARD_REFRACTION_K,
) -> tuple[Any, Any]:
    """Inverse projection: WGS84 ground point(s) at ``ground_height_m`` above the reference surface -> pixel
    (u, v) under the same Earth model as :func:`project_pixels`; NaN where behind the camera."""
    n, e, down = latlon_to_ned(pose.lat, pose.lon, lat, lon)
    gh = np.asarray(ground_height_m, dtype=np.float64)
    if earth_curvature:
        az = np.arctan2(e, n)
        r_true = radius_of_curvature_m(pose.lat, az)
        r_eff = r_true / (1.0 - refraction_k)
        gamma = np.arctan2(np.hypot(n, e), r_true - down) * r_true / r_eff  # central angle on the refraction sphere
        rho = (r_eff + gh) * np.sin(gamma)
        n, e = rho * np.cos(az), rho * np.sin(az)
        d = (r_eff + pose.height_agl_m) - (r_eff + gh) * np.cos(gamma)
    else:
        d = pose.height_agl_m - gh
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
