"""Synthetic catering oil-fume monitors (mg/m3, 1-min values): idle between services, higher while
cooking, and exceedance episodes above the GB 18483 limit 2.0 when a purifier is clogged or bypassed."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from gateway.demo.curves import Ar1, local_hour, plateau, ticks

FUME_LIMIT = 2.0  # mg/m3, GB 18483-2001


@dataclass(frozen=True)
class FumeProfile:
    services: tuple[tuple[float, float, float], ...]  # (start_h, end_h, level mg/m3) while cooking
    episodes: tuple[tuple[float, float, float], ...] = ()  # (start_h, end_h, level) purifier failing
    idle: float = 0.05
    sigma: float = 0.08
    # Normal cooking never reaches the limit: it is capped here so only the episodes make clues.
    service_cap: float = 1.6


# A large Cantonese restaurant: lunch and dinner; the purifier clogs during the dinner peak.
RESTAURANT = FumeProfile(
    services=((10.5, 13.5, 0.9), (17.0, 21.0, 1.1)),
    episodes=((18 + 25 / 60, 19 + 5 / 60, 2.8),),
)
# A late-night barbecue shop (its monitor is out of calibration, see devices.yaml): grill smoke peak.
BARBECUE = FumeProfile(
    services=((17.5, 26.0, 1.2),),
    episodes=((21 + 45 / 60, 22 + 25 / 60, 2.7),),
)


def fume_level(profile: FumeProfile, hour: float) -> float:
    """Expected fume concentration at a local hour, without fluctuation."""
    level = profile.idle
    for a, b, cooking in profile.services:
        level = max(level, profile.idle + (cooking - profile.idle) * plateau(hour, a, b, ramp_h=0.25))
    for a, b, peak in profile.episodes:
        level = max(level, peak * plateau(hour, a, b, ramp_h=5 / 60))
    return level


def fume_samples(profile: FumeProfile, start: datetime, seed: int, *, step_s: float = 60.0,
                 end: datetime | None = None) -> Iterator[tuple[datetime, dict[str, float]]]:
    """(t, {"oil_fume": ..}) every `step_s`; deterministic for a seed."""
    rng = random.Random(seed)
    drift = Ar1(rng, profile.sigma, tau_s=180.0, step_s=step_s)
    for t in ticks(start, step_s, end):
        hour = local_hour(t)
        expected = fume_level(profile, hour)
        value = max(0.01, expected * (1.0 + drift.next()))
        if expected < FUME_LIMIT:
            value = min(value, profile.service_cap)
        yield t, {"oil_fume": round(value, 2)}
