"""The ground a photo or frame covers: its image border projected to the ground, as a WGS84 polygon.

Why a module: the photo importer, the API and the detection stage all need the same coverage polygon, and its
edge cases -- an oblique image whose top edge looks past the range limit or above the horizon -- must be cut the
same way everywhere. The border is sampled ``edge_samples`` points per edge (a straight image edge is a curve on
curved ground); a border point whose ray misses the ground within range is replaced by the last point on the
segment from it towards the image's steepest ray that still meets it (found by bisection), so the polygon is
clipped at the range limit (or the horizon) and ``clipped`` says so. Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from geo.camera import FLAT, CameraIntrinsics, DronePose, GroundModel
from geo.projection import (
    DEFAULT_MAX_RANGE_M,
    STANDARD_REFRACTION_K,
    ProjectedPixels,
    latlon_to_ned,
    project_pixels,
)

__all__ = ["Footprint", "photo_footprint"]

_CLIP_BISECTIONS = 40


@dataclass(frozen=True, slots=True)
class Footprint:
    """A photo's ground coverage. ``ring`` is a closed, counter-clockwise (RFC 7946) list of (lon, lat);
    ``centre`` the image centre on the ground (None when it misses); ``gsd_m_per_px`` the ground sample distance
    at the centre (square root of one pixel's ground area); ``area_m2`` the polygon's area."""

    ring: list[tuple[float, float]]
    clipped: bool
    centre: tuple[float, float] | None
    centre_error_m: float | None
    gsd_m_per_px: float | None
    area_m2: float
    border_points: int

    def geometry(self) -> dict[str, Any]:
        """The GeoJSON Polygon."""
        return {"type": "Polygon", "coordinates": [[[lon, lat] for lon, lat in self.ring]]}

    def to_geojson(self, **properties: Any) -> dict[str, Any]:
        """A GeoJSON Feature with the footprint's figures (and ``properties``) as its properties."""
        props = {
            "clipped": self.clipped,
            "centre": list(self.centre) if self.centre else None,
            "centre_error_m": self.centre_error_m,
            "gsd_m_per_px": self.gsd_m_per_px,
            "area_m2": self.area_m2,
            **properties,
        }
        return {"type": "Feature", "geometry": self.geometry(), "properties": props}


def _border(w: int, h: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n points per edge, clockwise in the image from the top-left corner (top, right, bottom, left)."""
    s = np.linspace(0.0, 1.0, n, endpoint=False)
    u = np.concatenate([s * w, np.full(n, float(w)), (1 - s) * w, np.zeros(n)])
    v = np.concatenate([np.zeros(n), s * h, np.full(n, float(h)), (1 - s) * h])
    return u, v


def photo_footprint(
    pose: DronePose,
    cam: CameraIntrinsics,
    ground: GroundModel = FLAT,
    *,
    edge_samples: int = 8,
    max_range_m: float = DEFAULT_MAX_RANGE_M,
    earth_curvature: bool = True,
    refraction_k: float = STANDARD_REFRACTION_K,
) -> Footprint | None:
    """The image's ground coverage, or None when no part of the image meets the ground within range."""
    if edge_samples < 1:
        raise ValueError(f"edge_samples must be >= 1, got {edge_samples}")
    kw: dict[str, Any] = dict(ground=ground, max_range_m=max_range_m, earth_curvature=earth_curvature,
                              refraction_k=refraction_k)

    def proj(u: np.ndarray, v: np.ndarray) -> ProjectedPixels:
        return project_pixels(pose, cam, u, v, **kw)

    u, v = _border(cam.width, cam.height, edge_samples)
    border = proj(u, v)
    centre = proj(np.array([cam.cx]), np.array([cam.cy]))
    clipped = not bool(border.valid.all())
    if clipped:
        # the anchor: the steepest-looking sampled pixel that meets the ground
        gu, gv = np.meshgrid(np.linspace(0, cam.width, 9), np.linspace(0, cam.height, 9))
        grid = proj(gu.ravel(), gv.ravel())
        if not grid.valid.any() and not border.valid.any():
            return None
        assert grid.grazing_deg is not None
        steep = np.where(grid.valid, grid.grazing_deg, -np.inf)
        k = int(np.argmax(steep))
        au, av = float(gu.ravel()[k]), float(gv.ravel()[k])
        bad = ~border.valid
        lo = np.zeros(int(bad.sum()))  # fraction from the anchor (valid) ...
        hi = np.ones_like(lo)  # ... to the border point (invalid)
        bu, bv = u[bad], v[bad]
        for _ in range(_CLIP_BISECTIONS):
            mid = 0.5 * (lo + hi)
            ok = proj(au + mid * (bu - au), av + mid * (bv - av)).valid
            lo = np.where(ok, mid, lo)
            hi = np.where(ok, hi, mid)
        u[bad], v[bad] = au + lo * (bu - au), av + lo * (bv - av)
        border = proj(u, v)
    lon = border.lon[border.valid]
    lat = border.lat[border.valid]
    if lon.size < 3:
        return None
    n, e, _ = latlon_to_ned(pose.lat, pose.lon, lat, lon)
    # image order top -> right -> bottom -> left is clockwise seen from above for a nadir camera (yaw 0: top =
    # north, right = east); orient by the signed area rather than trust that for every attitude
    signed = 0.5 * float(np.sum(e * np.roll(n, -1) - np.roll(e, -1) * n))
    if signed < 0:
        lon, lat = lon[::-1], lat[::-1]
    ring = [(float(x), float(y)) for x, y in zip(lon, lat, strict=True)]
    ring.append(ring[0])
    c: tuple[float, float] | None = None
    c_err: float | None = None
    gsd: float | None = None
    if bool(centre.valid[0]):
        c = (float(centre.lon[0]), float(centre.lat[0]))
        c_err = float(centre.error_m[0])
        gsd = _gsd(pose, proj, cam)
    return Footprint(ring=ring, clipped=clipped, centre=c, centre_error_m=c_err, gsd_m_per_px=gsd,
                     area_m2=abs(signed), border_points=len(ring) - 1)


def _gsd(pose: DronePose, proj: Any, cam: CameraIntrinsics) -> float | None:
    """Square root of the ground area of one pixel at the image centre (from a 2-pixel cross, to stay linear)."""
    r = proj(np.array([cam.cx - 1, cam.cx + 1, cam.cx, cam.cx]), np.array([cam.cy, cam.cy, cam.cy - 1, cam.cy + 1]))
    if not r.valid.all():
        return None
    n, e, _ = latlon_to_ned(pose.lat, pose.lon, r.lat, r.lon)
    du = np.array([n[1] - n[0], e[1] - e[0]]) / 2.0
    dv = np.array([n[3] - n[2], e[3] - e[2]]) / 2.0
    return math.sqrt(abs(float(du[0] * dv[1] - du[1] * dv[0])))
