"""The WGS84 figure geo measures on: local scale, great-circle distance and heading, and their agreement with
the projection's exact tangent-plane conversion."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geo.geodesy import bearing_deg, distance_m, metres_per_degree
from geo.projection import ned_to_latlon
from geo.zones import degree_area_to_m2


@pytest.mark.parametrize(
    ("lat", "east", "north"),
    [
        # WGS84 tables: a degree of longitude shrinks with cos(lat); a degree of latitude grows toward the poles
        (0.0, 111_319.49, 110_574.28),
        (23.0, 102_523.0, 110_743.6),
        (45.0, 78_846.8, 111_131.7),
        (90.0, 0.0, 111_693.9),
    ],
)
def test_metres_per_degree(lat: float, east: float, north: float) -> None:
    e, n = metres_per_degree(lat)
    assert e == pytest.approx(east, abs=1.0)
    assert n == pytest.approx(north, abs=1.0)


@pytest.mark.parametrize(
    ("a", "b", "metres", "heading"),
    [
        ((113.0, 23.0), (113.0, 23.0), 0.0, 0.0),
        ((113.0, 23.0), (113.0, 24.0), 111_195.1, 0.0),  # a degree of the mean-radius sphere
        ((0.0, 0.0), (1.0, 0.0), 111_195.1, 90.0),
        ((113.0, 24.0), (113.0, 23.0), 111_195.1, 180.0),
        ((1.0, 0.0), (0.0, 0.0), 111_195.1, -90.0),
        ((0.0, 0.0), (180.0, 0.0), math.pi * 6_371_008.8, 90.0),
    ],
)
def test_distance_and_heading(a: tuple, b: tuple, metres: float, heading: float) -> None:
    assert distance_m(*a, *b) == pytest.approx(metres, abs=0.1)
    assert abs((bearing_deg(*a, *b) - heading + 180) % 360 - 180) < 1e-9


@pytest.mark.parametrize("azimuth", [0.0, 37.0, 90.0, 145.0, 200.0, 300.0])
def test_agrees_with_the_projection_frame_at_drone_ranges(azimuth: float) -> None:
    north = 800.0 * math.cos(math.radians(azimuth))
    east = 800.0 * math.sin(math.radians(azimuth))
    lat, lon = ned_to_latlon(23.03, 113.14, north, east)
    assert distance_m(113.14, 23.03, float(lon), float(lat)) == pytest.approx(800.0, rel=0.005)
    # the sphere's heading differs from the ellipsoidal azimuth by up to e2/2 rad (0.19 deg)
    assert abs((bearing_deg(113.14, 23.03, float(lon), float(lat)) - azimuth + 180) % 360 - 180) < 0.2


def test_area_uses_the_same_local_scale() -> None:
    e, n = metres_per_degree(23.0)
    assert degree_area_to_m2(1e-6, 23.0) == pytest.approx(1e-6 * e * n)
    lats = np.array([0.0, 23.0, 45.0])
    assert np.allclose(degree_area_to_m2(np.ones(3), lats), [metres_per_degree(x)[0] * metres_per_degree(x)[1]
                                                              for x in lats])
