"""The WGS84 ellipsoid and the distances, headings and local scales geo measures on it.

Every module that needs the Earth's figure takes it from here: projection (tangent plane <-> geodetic), zone
areas, fence buffers in metres, and the demo's drone route. Functions take lon/lat in degrees (the GeoJSON
order), accept floats or numpy arrays, and return floats for float input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

WGS84_A = 6378137.0  # semi-major axis, m
WGS84_F = 1.0 / 298.257223563
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)  # first eccentricity squared
WGS84_B = WGS84_A * (1.0 - WGS84_F)  # semi-minor axis, m
MEAN_RADIUS_M = 6371008.8  # IUGG mean radius (2a + b) / 3: the sphere of the great-circle formulas


def _out(x: Any) -> Any:
    return float(x) if np.ndim(x) == 0 else x


def metres_per_degree(lat: Any) -> tuple[Any, Any]:
    """(east, north) metres per degree of longitude and of latitude at latitude ``lat`` on the ellipsoid.

    The local scale of an equirectangular frame: exact at ``lat``, good to a fraction of a percent over a
    district, which is what zone areas and fence buffers need.
    """
    phi = np.radians(lat)
    s = np.sin(phi)
    w = 1.0 - WGS84_E2 * s * s
    meridian = WGS84_A * (1.0 - WGS84_E2) / w**1.5  # radius of curvature north-south
    prime_vertical = WGS84_A / np.sqrt(w)  # radius of curvature east-west
    rad = np.pi / 180.0
    return _out(prime_vertical * np.cos(phi) * rad), _out(meridian * rad)


def distance_m(lon1: Any, lat1: Any, lon2: Any, lat2: Any) -> Any:
    """Great-circle (haversine) distance in metres on the mean-radius sphere; within 0.5% of the ellipsoidal
    distance, so for error budgets, tests and the demo, not for survey-grade lengths."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return _out(2 * MEAN_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0))))


def bearing_deg(lon1: Any, lat1: Any, lon2: Any, lat2: Any) -> Any:
    """Initial great-circle heading from point 1 to point 2, degrees clockwise from north in -180..180 (the
    pose yaw convention); 0 for coincident points. On the sphere: within 0.2 degrees of the ellipsoidal azimuth."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    x = np.sin(dl) * np.cos(p2)
    y = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
    return _out(np.degrees(np.arctan2(x, y)))
