"""WGS84 (= CGCS2000 at our accuracy) <-> GCJ-02 <-> BD-09 conversions.

Why this module exists: Chinese map vendors publish coordinates in GCJ-02 (Amap, Tencent) or BD-09
(Baidu); our zones, poses and evidence are WGS84. Every function is vectorised over numpy arrays and
also accepts plain floats (then returns floats).

Constants are pinned to the published ("leaked") algorithm: ``a = 6378245.0`` (Krasovsky) and
``ee = 0.00669342162296594323``; eviltransform's later change to 6378137 moves points by ~1 cm and
does not reproduce the published test vectors (tests/geo/test_geo_crs.py holds this module to them).

Inverse GCJ-02 uses the fixed-point iteration ``w <- w - (wgs2gcj(w) - g)`` (converges to <1e-12 deg
in 3-4 steps); the single-step inverse (``gcj02_to_wgs84_single_step``) is kept only because vendor
code uses it and its documented outputs are test vectors; it is off by up to ~2 m.

The inverses (iterative, single-step, and BD-09 through them) decide "inside China" on their WGS84 RESULT,
the point the forward function would have tested: a Shenzhen point near the Hong Kong border or a coastal
point whose GCJ-02 image lies outside the region still comes back. A GCJ-02 point in the band (up to ~700 m)
just outside the region's edge is ambiguous -- both an inside point and itself map there -- and is read as the
inside point's image.

"Outside China" defaults to the common bounding box rule. That box wrongly contains Seoul, Taipei,
Hong Kong and Ulaanbaatar; callers who handle such data install a polygon region with
:func:`set_china_region` (e.g. built from a national boundary file).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Protocol, overload

import numpy as np
import shapely

from geo.geodesy import WGS84_A

A_KRASOVSKY = 6378245.0
EE_KRASOVSKY = 0.00669342162296594323
X_PI = math.pi * 3000.0 / 180.0

# eviltransform / PRCoords box (the wandergis box 73.66-135.05, 3.86-53.55 is tighter but cuts off
# parts of Xinjiang and Heilongjiang).
CHINA_BBOX = (72.004, 0.8293, 137.8347, 55.8271)  # west, south, east, north

# Metres per degree along the equator (~111 km): turns densify_m into degrees, roughly; only a bound on edge length.
_M_PER_DEG = math.radians(WGS84_A)


class Crs(StrEnum):
    """Coordinate reference systems the gateway understands."""

    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


_ALIASES = {
    "wgs84": Crs.WGS84,
    "wgs-84": Crs.WGS84,
    "epsg:4326": Crs.WGS84,
    "crs84": Crs.WGS84,
    "cgcs2000": Crs.WGS84,  # EPSG:4490; within centimetres of WGS84, below what zones and poses resolve
    "epsg:4490": Crs.WGS84,
    "gcj02": Crs.GCJ02,
    "gcj-02": Crs.GCJ02,
    "bd09": Crs.BD09,
    "bd-09": Crs.BD09,
}


def parse_crs(name: str | Crs) -> Crs:
    """Normalise a CRS name (``"GCJ-02"``, ``"cgcs2000"``, ``"EPSG:4326"``...) to :class:`Crs`."""
    if isinstance(name, Crs):
        return name
    key = str(name).strip().lower()
    if key not in _ALIASES:
        raise ValueError(f"unknown crs {name!r}; expected one of {sorted(set(_ALIASES))}")
    return _ALIASES[key]


class ChinaRegion(Protocol):
    """Decides where the GCJ-02 offset applies. Returns a boolean array."""

    def contains(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray: ...


class BBoxChinaRegion:
    """The crude bounding-box rule used by all public implementations (default)."""

    def __init__(self, bbox: tuple[float, float, float, float] = CHINA_BBOX) -> None:
        self.bbox = bbox

    def contains(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        w, s, e, n = self.bbox
        return (lon >= w) & (lon <= e) & (lat >= s) & (lat <= n)


class PolygonChinaRegion:
    """A region given by a (WGS84 lon/lat) shapely polygon; fixes the Seoul/Taipei pitfall."""

    def __init__(self, geometry: Any) -> None:
        self.geometry = geometry
        shapely.prepare(geometry)

    def contains(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        return np.asarray(shapely.intersects_xy(self.geometry, lon, lat), dtype=bool)


_region: ChinaRegion = BBoxChinaRegion()


def set_china_region(region: ChinaRegion | None) -> ChinaRegion:
    """Install the process-wide "inside China" test; ``None`` restores the bbox rule.

    Returns the previous region so tests can restore it.
    """
    global _region
    previous = _region
    _region = region if region is not None else BBoxChinaRegion()
    return previous


def in_china(lon: Any, lat: Any) -> Any:
    """True where the GCJ-02 offset applies (per the installed region)."""
    x, y, scalar = _arrays(lon, lat)
    out = _region.contains(x, y)
    return bool(out[0]) if scalar else out


def out_of_china(lon: Any, lat: Any) -> Any:
    """Negation of :func:`in_china`, under the name the reference implementations use."""
    res = in_china(lon, lat)
    return (not res) if isinstance(res, bool) else ~res


def _arrays(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    x = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    y = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    x, y = np.broadcast_arrays(x, y)
    return x, y, scalar


def _ret(x: np.ndarray, y: np.ndarray, scalar: bool) -> tuple[Any, Any]:
    if scalar:
        return float(x[0]), float(y[0])
    return x, y


def _gcj_delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 offset (dlon, dlat) in degrees at WGS84 (lon, lat); the published formula verbatim."""
    x = lon - 105.0
    y = lat - 35.0
    pi = math.pi
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    sq = np.sqrt(np.abs(x))
    t_lat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * sq
        + common
        + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    )
    t_lon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * sq
        + common
        + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    )
    rad = lat / 180.0 * pi
    magic = 1.0 - EE_KRASOVSKY * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (t_lat * 180.0) / ((A_KRASOVSKY * (1.0 - EE_KRASOVSKY)) / (magic * sqrt_magic) * pi)
    dlon = (t_lon * 180.0) / (A_KRASOVSKY / sqrt_magic * np.cos(rad) * pi)
    return dlon, dlat


def _offset(lon: Any, lat: Any, sign: float) -> tuple[Any, Any]:
    """Add (sign 1) or subtract (sign -1) the GCJ-02 offset evaluated at the input, where the region says it
    applies; the formula is only evaluated there (it divides by cos(lat))."""
    x, y, scalar = _arrays(lon, lat)
    inside = _region.contains(x, y)
    ox, oy = x.copy(), y.copy()
    if inside.any():
        dlon, dlat = _gcj_delta(x[inside], y[inside])
        ox[inside] += sign * dlon
        oy[inside] += sign * dlat
    return _ret(ox, oy, scalar)


@overload
def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...
def wgs84_to_gcj02(lon: Any, lat: Any) -> tuple[Any, Any]:
    """WGS84 -> GCJ-02 (closed form). Points outside China are returned unchanged."""
    return _offset(lon, lat, 1.0)


# The offset formula divides by cos(lat); beyond this no point can be inside any region of ours.
_FORMULA_LAT = 85.0


def _keep_inside(x: np.ndarray, y: np.ndarray, wx: np.ndarray, wy: np.ndarray, scalar: bool) -> tuple[Any, Any]:
    """The WGS84 candidate where it lies inside the region (the forward function would have shifted it), else the
    input unchanged (outside, the forward function is the identity)."""
    inside = _region.contains(wx, wy)
    return _ret(np.where(inside, wx, x), np.where(inside, wy, y), scalar)


def gcj02_to_wgs84_single_step(lon: Any, lat: Any) -> tuple[Any, Any]:
    """The common one-step approximation ``2*g - f(g)``; up to ~2 m off. Prefer :func:`gcj02_to_wgs84`.

    Inside or outside China is decided on the result (see the module docstring)."""
    x, y, scalar = _arrays(lon, lat)
    wx, wy = x.copy(), y.copy()
    ok = np.abs(y) < _FORMULA_LAT
    if ok.any():
        dlon, dlat = _gcj_delta(x[ok], y[ok])
        wx[ok] -= dlon
        wy[ok] -= dlat
    return _keep_inside(x, y, wx, wy, scalar)


def gcj02_to_wgs84(lon: Any, lat: Any, tol_deg: float = 1e-12, max_iter: int = 20) -> tuple[Any, Any]:
    """GCJ-02 -> WGS84, exact to ``tol_deg`` by fixed-point iteration (error well under 1 mm).

    Inside or outside China is decided on the WGS84 result (see the module docstring): where the result lies
    outside the installed region the input is returned unchanged.
    """
    x, y, scalar = _arrays(lon, lat)
    ok = np.abs(y) < _FORMULA_LAT
    ox, oy = x.copy(), y.copy()
    if ok.any():
        gx, gy = x[ok], y[ok]
        dlon, dlat = _gcj_delta(gx, gy)
        wx, wy = gx - dlon, gy - dlat
        for _ in range(max_iter):
            dlon, dlat = _gcj_delta(wx, wy)
            ex = wx + dlon - gx
            ey = wy + dlat - gy
            # Stop on the residual of the point returned, not of the one before it: along 105 E the offset's
            # sqrt|lon - 105| term is not a contraction, and one more step there can land above tol_deg.
            if max(float(np.max(np.abs(ex))), float(np.max(np.abs(ey)))) < tol_deg:
                break
            wx = wx - ex
            wy = wy - ey
        ox[ok], oy[ok] = wx, wy
    return _keep_inside(x, y, ox, oy, scalar)


def gcj02_to_bd09(lon: Any, lat: Any) -> tuple[Any, Any]:
    """GCJ-02 -> BD-09 (Baidu), canonical formula with ``x_pi = pi*3000/180``."""
    x, y, scalar = _arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * X_PI)
    return _ret(z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006, scalar)


def bd09_to_gcj02(lon: Any, lat: Any) -> tuple[Any, Any]:
    """BD-09 -> GCJ-02 (the published approximate inverse of :func:`gcj02_to_bd09`)."""
    bx, by, scalar = _arrays(lon, lat)
    x = bx - 0.0065
    y = by - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * X_PI)
    return _ret(z * np.cos(theta), z * np.sin(theta), scalar)


def wgs84_to_bd09(lon: Any, lat: Any) -> tuple[Any, Any]:
    """WGS84 -> GCJ-02 -> BD-09."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: Any, lat: Any) -> tuple[Any, Any]:
    """BD-09 -> GCJ-02 -> WGS84 (iterative GCJ inverse)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_CONVERTERS: dict[tuple[Crs, Crs], Callable[[Any, Any], tuple[Any, Any]]] = {
    (Crs.WGS84, Crs.GCJ02): wgs84_to_gcj02,
    (Crs.GCJ02, Crs.WGS84): gcj02_to_wgs84,
    (Crs.GCJ02, Crs.BD09): gcj02_to_bd09,
    (Crs.BD09, Crs.GCJ02): bd09_to_gcj02,
    (Crs.WGS84, Crs.BD09): wgs84_to_bd09,
    (Crs.BD09, Crs.WGS84): bd09_to_wgs84,
}


def convert(lon: Any, lat: Any, src: str | Crs, dst: str | Crs) -> tuple[Any, Any]:
    """Convert coordinates between any two supported CRSs (identity when equal)."""
    s, d = parse_crs(src), parse_crs(dst)
    if s == d:
        x, y, scalar = _arrays(lon, lat)
        return _ret(x.copy(), y.copy(), scalar)
    return _CONVERTERS[(s, d)](lon, lat)


def convert_geometry(geom: Any, src: str | Crs, dst: str | Crs, densify_m: float | None = 500.0) -> Any:
    """Convert a shapely geometry between CRSs, densifying edges first.

    The GCJ-02 offset field is nonlinear: converting only the vertices of a 5 km edge leaves its
    midpoint metres off, so edges are split to <= ``densify_m`` metres
    (approximately, using 1 deg ~ 111 km) before the vertices are moved. ``None`` disables it.
    """
    s, d = parse_crs(src), parse_crs(dst)
    if s == d:
        return geom
    if densify_m is not None and densify_m > 0:
        geom = shapely.segmentize(geom, densify_m / _M_PER_DEG)

    def _tx(coords: np.ndarray) -> np.ndarray:
        x, y = convert(coords[:, 0], coords[:, 1], s, d)
        return np.column_stack([x, y])

    return shapely.transform(geom, _tx)
