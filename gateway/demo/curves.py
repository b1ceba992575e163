"""Building blocks of the synthetic signals: local clock hours, diurnal shapes, episode windows, level sums
and a seeded AR(1) fluctuation. Pure functions: no I/O, no wall clock."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

from gateway.demo.clock import LOCAL_TZ


def local_hour(t: datetime) -> float:
    """Hours since local (Asia/Shanghai) midnight, e.g. 23.5 for 23:30."""
    lt = t.astimezone(LOCAL_TZ)
    return lt.hour + lt.minute / 60 + (lt.second + lt.microsecond / 1e6) / 3600


def diurnal(hour: float, anchors: Sequence[tuple[float, float]]) -> float:
    """Linear interpolation through (hour, value) anchors sorted by hour, periodic over 24 h."""
    h = hour % 24.0
    pts = [(anchors[-1][0] - 24.0, anchors[-1][1]), *anchors, (anchors[0][0] + 24.0, anchors[0][1])]
    for (h0, v0), (h1, v1) in itertools.pairwise(pts):
        if h0 <= h <= h1:
            return v0 + (v1 - v0) * (h - h0) / (h1 - h0)
    raise AssertionError("anchors must be sorted by hour within 0..24")


def in_window(hour: float, start_h: float, end_h: float) -> bool:
    """hour in [start_h, end_h); end_h may exceed 24 for a window past midnight (e.g. 17.5..26.0)."""
    h = hour % 24.0
    if h < start_h:
        h += 24.0
    return start_h <= h < end_h


def plateau(hour: float, start_h: float, end_h: float, ramp_h: float) -> float:
    """0..1: 1 inside [start_h, end_h], raised-cosine ramps of `ramp_h` outside it, 0 beyond.

    Real episodes do not switch on in one sample: machines spin up, a purifier clogs over minutes.
    """
    h = hour % 24.0
    if h < start_h - ramp_h:
        h += 24.0
    if start_h <= h <= end_h:
        return 1.0
    if start_h - ramp_h < h < start_h:
        return 0.5 - 0.5 * math.cos(math.pi * (h - (start_h - ramp_h)) / ramp_h)
    if end_h < h < end_h + ramp_h:
        return 0.5 + 0.5 * math.cos(math.pi * (h - end_h) / ramp_h)
    return 0.0


def energy_sum(*levels_db: float) -> float:
    """Sound levels add as energies: 60 dB + 60 dB = 63 dB."""
    return 10.0 * math.log10(sum(10.0 ** (level / 10.0) for level in levels_db))


def leq(levels_db: Sequence[float]) -> float:
    """Equivalent continuous level of equally spaced samples (energy mean)."""
    return 10.0 * math.log10(sum(10.0 ** (v / 10.0) for v in levels_db) / len(levels_db))


class Ar1:
    """Seeded AR(1) noise with standard deviation `sigma` and correlation time `tau_s`: smooth wandering
    instead of white noise, the way a real level drifts from second to second."""

    def __init__(self, rng: random.Random, sigma: float, tau_s: float, step_s: float) -> None:
        self.rng = rng
        self.sigma = sigma
        self.a = math.exp(-step_s / tau_s)
        self.x = rng.gauss(0.0, sigma)

    def next(self) -> float:
        self.x = self.a * self.x + math.sqrt(1.0 - self.a**2) * self.rng.gauss(0.0, self.sigma)
        return self.x


def ticks(start: datetime, step_s: float, end: datetime | None = None) -> Iterator[datetime]:
    """start, start+step, ... (forever when `end` is None, else while < end)."""
    k = 0
    while True:
        t = start + timedelta(seconds=k * step_s)
        if end is not None and t >= end:
            return
        yield t
        k += 1
