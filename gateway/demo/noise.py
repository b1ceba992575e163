"""Synthetic noise monitor: 1-s LAeq and LAmax with a traffic-like day/night curve, passing vehicles,
daytime machinery and (at the construction site) an illegal night-work episode."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from gateway.demo.curves import Ar1, diurnal, energy_sum, in_window, local_hour, plateau, ticks

# Hourly traffic background (hour, dB(A)): quiet 02:00-05:00, morning rush, flat day, evening, decay
# after 22:00. Kept below the GB 12523 night limit 55 at night so only the episode exceeds it.
SITE_TRAFFIC = ((0.0, 46.0), (3.5, 43.0), (6.0, 49.0), (8.0, 60.0), (12.0, 58.0), (17.5, 60.0), (20.0, 55.0),
                (22.0, 49.0))
# A residential street behind the arterial road: ~6 dB quieter (GB 3096 class 1: 55 day, 45 night).
RESIDENTIAL_TRAFFIC = ((0.0, 40.0), (3.5, 37.0), (6.0, 42.0), (8.0, 52.0), (12.0, 50.0), (17.5, 52.0),
                       (20.0, 48.0), (22.0, 43.0))


@dataclass(frozen=True)
class NoiseProfile:
    traffic: tuple[tuple[float, float], ...]
    machinery_db: float = 0.0  # level of daytime machinery at the monitor; 0 = none
    work_hours: tuple[tuple[float, float], ...] = ()
    night_work: tuple[tuple[float, float, float], ...] = ()  # (start_h, end_h, level dB(A))
    vehicles_per_min: float = 4.0  # at a 55 dB background; scales with the traffic level
    sigma_db: float = 1.5


CONSTRUCTION_SITE = NoiseProfile(
    traffic=SITE_TRAFFIC,
    machinery_db=64.0,  # below the GB 12523 day limit 70 even with traffic on top
    work_hours=((7.5, 12.0), (14.0, 18.0)),
    # Concrete pouring past 23:00 without a night-work permit: ~65 dB(A), 10 dB over the night limit 55.
    night_work=((23 + 10 / 60, 23 + 40 / 60, 65.0),),
)
RESIDENTIAL = NoiseProfile(traffic=RESIDENTIAL_TRAFFIC, vehicles_per_min=2.0)


def noise_level(profile: NoiseProfile, hour: float) -> float:
    """Expected LAeq at a local hour, without fluctuation or vehicles (the curve the samples scatter around)."""
    parts = [diurnal(hour, profile.traffic)]
    if profile.machinery_db and any(in_window(hour, a, b) for a, b in profile.work_hours):
        parts.append(profile.machinery_db)
    for a, b, level in profile.night_work:
        w = plateau(hour, a, b, ramp_h=2 / 60)
        if w > 0:
            parts.append(level + 10.0 * _log10(w))
    return energy_sum(*parts)


def noise_samples(profile: NoiseProfile, start: datetime, seed: int, *, step_s: float = 1.0,
                  end: datetime | None = None) -> Iterator[tuple[datetime, dict[str, float]]]:
    """(t, {"LAeq": .., "LAmax": ..}) every `step_s`; deterministic for a seed."""
    rng = random.Random(seed)
    drift = Ar1(rng, profile.sigma_db, tau_s=45.0, step_s=step_s)
    passby = 0.0  # dB above background of the vehicle passing now; decays as it drives away
    for t in ticks(start, step_s, end):
        hour = local_hour(t)
        base = noise_level(profile, hour)
        traffic = diurnal(hour, profile.traffic)
        rate = profile.vehicles_per_min / 60.0 * 10 ** ((traffic - 55.0) / 20.0) * step_s
        if rng.random() < rate:
            passby = max(passby, rng.uniform(4.0, 8.0))
        laeq = base + drift.next()
        if passby > 0:
            laeq = energy_sum(laeq, traffic + passby)
        passby = max(0.0, passby - 3.0 * step_s)
        working = laeq - traffic > 3.0  # machines dominate: impulsive peaks (hammering, pump starts)
        lamax = laeq + abs(rng.gauss(2.0, 0.8)) + (rng.uniform(0.0, 8.0) if working else 0.0)
        yield t, {"LAeq": round(laeq, 1), "LAmax": round(lamax, 1)}


def _log10(x: float) -> float:
    return math.log10(max(x, 1e-9))
