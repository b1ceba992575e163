"""The drone patrol: a closed polygon over Guicheng, Nanhai flown from the dock at 120 m, and the sortie
schedule. Lengths and headings are geo.geodesy's great-circle ones; between two waypoints the drone moves
linearly in lat/lon, which over legs of a kilometre stays within centimetres of the great circle."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from gateway.demo.curves import ticks
from geo.geodesy import bearing_deg, distance_m

LatLon = tuple[float, float]

# Dock on the roof of the Guicheng enforcement squadron; the loop passes the construction site (west),
# the barbecue street (south), the residential block (east) and the restaurant (north). WGS84.
DOCK: LatLon = (23.0335, 113.1420)
PATROL: tuple[LatLon, ...] = (
    DOCK,
    (23.0300, 113.1350),
    (23.0240, 113.1380),
    (23.0235, 113.1480),
    (23.0300, 113.1530),
    (23.0380, 113.1500),
    (23.0378, 113.1440),
    DOCK,
)
DOCK_ELLIPSOID_M = 18.0  # ellipsoidal height of the dock roof (ground ~3 m + building ~15 m, geoid ~0)
# Local take-off times (hour, minute) and laps: an evening patrol, a night patrol over the construction site
# (one flight serving the noise and dust departments too), and two daytime ones.
SORTIES: tuple[tuple[int, int, int], ...] = ((17, 40, 2), (23, 0, 2), (9, 30, 2), (14, 30, 2))


@dataclass(frozen=True, slots=True)
class PoseSample:
    t: datetime
    lat: float
    lon: float
    alt_rel_m: float
    yaw: float
    pitch: float
    roll: float
    gimbal_pitch: float
    speed_mps: float


def _leg_m(a: LatLon, b: LatLon) -> float:
    return distance_m(a[1], a[0], b[1], b[0])


def _heading(a: LatLon, b: LatLon) -> float:
    """Heading from a to b, degrees clockwise from north, -180..180 (the pose yaw convention)."""
    return bearing_deg(a[1], a[0], b[1], b[0])


def loop_length_m(route: tuple[LatLon, ...] = PATROL) -> float:
    return sum(_leg_m(a, b) for a, b in itertools.pairwise(route))


def position_on_loop(s: float, route: tuple[LatLon, ...] = PATROL) -> tuple[LatLon, float]:
    """Point `s` metres along the closed route (wrapping), and the heading of its segment."""
    s %= loop_length_m(route)
    for a, b in itertools.pairwise(route):
        d = _leg_m(a, b)
        if s <= d:
            f = s / d
            return (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f), _heading(a, b)
        s -= d
    return route[-1], _heading(route[-2], route[-1])


def sortie_poses(takeoff: datetime, seed: int, *, laps: int = 2, route: tuple[LatLon, ...] = PATROL,
                 cruise_mps: float = 10.0, alt_m: float = 120.0, climb_mps: float = 5.0,
                 step_s: float = 1.0) -> Iterator[PoseSample]:
    """One flight at `step_s`: vertical climb at the dock, `laps` loops at `cruise_mps`, descent."""
    rng = random.Random(seed)
    climb_s = alt_m / climb_mps
    cruise_s = laps * loop_length_m(route) / cruise_mps
    total_s = sortie_duration_s(laps, route, cruise_mps=cruise_mps, alt_m=alt_m, climb_mps=climb_mps)
    # Land on a whole step, so the last pose is on the dock at 0 m (hovering up to one step before descent).
    landing_s = math.ceil(total_s / step_s) * step_s
    heading = _heading(route[0], route[1])
    for t in ticks(takeoff, step_s, takeoff + timedelta(seconds=landing_s + step_s / 2)):
        e = (t - takeoff).total_seconds()
        wobble = rng.gauss(0.0, 0.6)  # gusts: a little roll and yaw jitter, as in real OSD logs
        if e < climb_s or e > climb_s + cruise_s:  # vertical at the dock: hover attitude
            alt = min(e * climb_mps, (landing_s - e) * climb_mps, alt_m)
            yield PoseSample(t, route[0][0], route[0][1], round(max(alt, 0.0), 1), round(heading, 1), 0.0,
                             round(wobble, 1), -45.0, 0.0)
            continue
        (lat, lon), heading = position_on_loop((e - climb_s) * cruise_mps, route)
        # Forward flight at 10 m/s: nose about 8 degrees down; heading along track.
        yield PoseSample(t, lat, lon, alt_m, round(heading + wobble, 1), -8.0, round(wobble, 1), -45.0,
                         cruise_mps)


def sortie_duration_s(laps: int, route: tuple[LatLon, ...] = PATROL, *, cruise_mps: float = 10.0,
                      alt_m: float = 120.0, climb_mps: float = 5.0) -> float:
    return 2 * alt_m / climb_mps + laps * loop_length_m(route) / cruise_mps


def sortie_takeoffs(start: datetime, tz: tzinfo) -> Iterator[tuple[datetime, int]]:
    """(take-off time, laps) of every scheduled sortie at or after `start`, in time order, forever."""
    local = start.astimezone(tz)
    day = local.date()
    while True:
        for hour, minute, laps in sorted(SORTIES):
            t = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
            if t >= local:
                yield t, laps
        day += timedelta(days=1)
