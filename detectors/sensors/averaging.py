"""Pure averaging functions: energy average (Leq) for sound levels, arithmetic mean for concentrations.

Decision on irregular sampling: the engine averages **per sample** (each reading weighs the same). Sound
level meters and online monitors report one value per fixed integration interval (LAeq,1s, a 1-min mean),
so a reading stands for an equal slice of time; a gap is missing data, not a long sample. When readings
are known to be irregular, `leq_time_weighted` / `mean_time_weighted` weigh each value by the time until the
next one (sample-and-hold); they are here for offline checks and reports, not the hot path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise


def energy(level_db: float) -> float:
    """Sound level in dB -> relative energy 10^(L/10)."""
    return 10.0 ** (level_db / 10.0)


def level(mean_energy: float) -> float:
    """Relative energy -> sound level 10*log10(E)."""
    return 10.0 * math.log10(mean_energy)


def leq(levels: Sequence[float]) -> float:
    """Equivalent continuous level of equal-duration samples: 10*log10(mean(10^(L/10)))."""
    if not levels:
        raise ValueError("leq of no levels")
    return level(math.fsum(energy(x) for x in levels) / len(levels))


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("mean of no values")
    return math.fsum(values) / len(values)


def maximum(values: Sequence[float]) -> float:
    return max(values)


def minimum(values: Sequence[float]) -> float:
    return min(values)


def _durations(times: Sequence[float], end: float) -> list[float]:
    if len(times) == 0:
        raise ValueError("no samples")
    if any(b < a for a, b in pairwise(times)) or end < times[-1]:
        raise ValueError("times must ascend and end must not precede the last sample")
    return [b - a for a, b in zip(times, [*times[1:], end], strict=True)]


def mean_time_weighted(times: Sequence[float], values: Sequence[float], end: float) -> float:
    """Sample-and-hold mean over [times[0], end]; each value holds until the next sample."""
    d = _durations(times, end)
    total = math.fsum(d)
    if total <= 0:
        return mean(values)
    return math.fsum(v * w for v, w in zip(values, d, strict=True)) / total


def leq_time_weighted(times: Sequence[float], levels: Sequence[float], end: float) -> float:
    """Sample-and-hold Leq over [times[0], end]."""
    return level(mean_time_weighted(times, [energy(x) for x in levels], end))


AVERAGERS = {"leq": leq, "mean": mean, "max": maximum, "min": minimum}
