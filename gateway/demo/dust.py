"""Synthetic PM10/PM2.5 dust monitor at the construction site: 1-min means (ug/m3) with a diurnal urban
background, extra dust while the site works, and an evening muck-truck episode (渣土车夜间出土)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from gateway.demo.curves import Ar1, diurnal, in_window, local_hour, plateau, ticks

# Urban PM10 background in Foshan in autumn: morning and evening traffic peaks, clean small hours.
PM10_BACKGROUND = ((0.0, 45.0), (4.0, 35.0), (8.0, 68.0), (13.0, 48.0), (19.0, 62.0), (22.0, 52.0))


@dataclass(frozen=True)
class DustProfile:
    background: tuple[tuple[float, float], ...] = PM10_BACKGROUND
    work_hours: tuple[tuple[float, float], ...] = ((7.5, 12.0), (14.0, 18.0))
    work_excess: float = 25.0  # ug/m3 added by a watered, netted site at work
    # (start_h, end_h, peak excess ug/m3): earthwork loaded onto trucks after the day shift, no spraying.
    episodes: tuple[tuple[float, float, float], ...] = ((20 + 40 / 60, 21 + 40 / 60, 280.0),)
    sigma: float = 0.12  # relative fluctuation


CONSTRUCTION_DUST = DustProfile()


def dust_level(profile: DustProfile, hour: float) -> float:
    """Expected PM10 at a local hour, without fluctuation."""
    level = diurnal(hour, profile.background)
    if any(in_window(hour, a, b) for a, b in profile.work_hours):
        level += profile.work_excess
    for a, b, peak in profile.episodes:
        level += peak * plateau(hour, a, b, ramp_h=15 / 60)
    return level


def dust_samples(profile: DustProfile, start: datetime, seed: int, *, step_s: float = 60.0,
                 end: datetime | None = None) -> Iterator[tuple[datetime, dict[str, float]]]:
    """(t, {"PM10": .., "PM2.5": ..}) every `step_s`; deterministic for a seed."""
    rng = random.Random(seed)
    drift = Ar1(rng, profile.sigma, tau_s=900.0, step_s=step_s)
    for t in ticks(start, step_s, end):
        hour = local_hour(t)
        background = diurnal(hour, profile.background)
        pm10 = max(5.0, dust_level(profile, hour) * (1.0 + drift.next()))
        # Construction dust is coarse: its PM2.5 share is far below the ~60 % of urban background.
        pm25 = 0.6 * min(pm10, background) + 0.2 * max(0.0, pm10 - background)
        yield t, {"PM10": round(pm10), "PM2.5": round(pm25)}
