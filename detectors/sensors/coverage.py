"""How much data a window must hold before its value is a measurement, and what the engine records about it.

A 20-minute LAeq computed from two minutes of data is not a 20-minute LAeq: a rule is evaluated only once its
window meets the rule's minimum coverage, at every period start, after every gap and when a device first reports.

* `min_span_s`: seconds of unbroken data the window must hold. Default: the whole window for leq/mean/max/min,
  0 for averaging=sample (a sample is its own measurement).
* `max_gap_s`: the longest interval between two readings that still counts as unbroken data; a longer one is a
  gap, and the time it spans is missing. Default: the larger of 60 s and 5 % of the window (a device reporting
  once a minute is unbroken; a 20-minute LAeq tolerates no hole longer than a minute).
* `min_count` / `count_unit_s`: where the standard counts valid values instead (GB 3095-2012 Table 2 note: a
  24-hour mean needs at least 20 hourly values), the number of clock-aligned units of `count_unit_s` holding data.

How a window's span is measured:
* sliding windows (t - window_s, t]: a reading stands for the interval since the previous one (sound level
  meters and online monitors stamp a value at the end of its integration interval); the first reading of a run
  for the interval up to the second. The window is full once the run reaches back to t - window_s.
* tumbling windows [start, end): readings are assigned to the window they fall in; the missing time is the
  interval from the window's start to its first reading when nothing came just before it, every gap inside, and
  the interval from the last reading to the end when it exceeds `max_gap_s`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MIN_DEFAULT_GAP_S = 60.0
DEFAULT_GAP_FRACTION = 0.05


def default_min_span_s(averaging: str, window_s: float) -> float:
    """The whole window for averaged values, nothing for per-sample rules."""
    return 0.0 if averaging == "sample" else float(window_s)


def default_max_gap_s(window_s: float) -> float:
    return max(MIN_DEFAULT_GAP_S, DEFAULT_GAP_FRACTION * float(window_s))


@dataclass(frozen=True, slots=True)
class CoverageSpec:
    """A rule's coverage requirement with its defaults resolved."""

    min_span_s: float
    max_gap_s: float
    min_count: int | None = None
    count_unit_s: float | None = None

    def met(self, span_s: float, count: int) -> bool:
        return span_s >= self.min_span_s and (self.min_count is None or count >= self.min_count)


def resolve(averaging: str, window_s: float, min_span_s: float | None, max_gap_s: float | None,
            min_count: int | None, count_unit_s: float | None) -> CoverageSpec:
    span = default_min_span_s(averaging, window_s) if min_span_s is None else float(min_span_s)
    gap = default_max_gap_s(window_s) if max_gap_s is None else float(max_gap_s)
    return CoverageSpec(min(span, float(window_s)), gap, min_count,
                        None if count_unit_s is None else float(count_unit_s))


@dataclass(frozen=True, slots=True)
class Coverage:
    """What the value of an alert event rests on: seconds of data in the window, gaps inside it, valid values."""

    span_s: float
    required_s: float
    window_s: float
    gaps: int = 0
    count: int | None = None
    required_count: int | None = None

    @property
    def cut_by_gap(self) -> bool:
        return self.gaps > 0


Method = Literal["gb18483"]


def check_coverage(rule_id: str, *, averaging: str, window_s: float, window_kind: str, min_count: int | None,
                   count_unit_s: float | None, method: str | None) -> None:
    """What coverage and method fields must satisfy together; ValueError names the rule."""
    if (min_count is None) != (count_unit_s is None):
        raise ValueError(f"rule {rule_id}: min_count and count_unit_s go together")
    if min_count is not None and window_kind != "tumbling":
        raise ValueError(f"rule {rule_id}: min_count counts units of a tumbling window")
    if method == "gb18483" and (averaging != "mean" or window_s != 3000):
        raise ValueError(f"rule {rule_id}: method gb18483 averages (mean) five 10-minute samples: window_s 3000")
