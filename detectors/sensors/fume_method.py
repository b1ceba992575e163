"""GB 18483-2001 by its own method: five consecutive 10-minute samples, converted to the reference exhaust volume.

The standard's limit (2.0 mg/m3) applies to

* the concentration converted to the reference exhaust volume of 2000 m3/h per reference cooking head:
  C_ref = C x Q / (n x 2000), with Q the exhaust flow (m3/h) and n the number of reference cooking heads of the
  premises (device attrs `exhaust_flow_m3h`, `cooking_heads`; n may be fractional, as the standard converts by
  heat power or hood area);
* averaged over five consecutive 10-minute samples, a sample below a quarter of the largest of the five being
  invalid and left out, with at least three valid samples.

`FumeWindow` forms clock-aligned 10-minute samples from the monitor's readings (each sample needs full coverage,
see detectors.sensors.coverage), slides over the last five consecutive ones and yields a value each time a sample
closes. A monitor without Q and n still raises alerts on the unconverted value, marked screening only and
inadmissible (`no_exhaust_reference`): an unconverted concentration is not the quantity the limit applies to.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

METHOD = "gb18483"
SAMPLE_S = 600.0
SAMPLES = 5
MIN_VALID = 3
REFERENCE_FLOW_M3H = 2000.0  # per reference cooking head
FLOW_ATTR = "exhaust_flow_m3h"
HEADS_ATTR = "cooking_heads"
NO_EXHAUST_REFERENCE = "no_exhaust_reference"


@dataclass(frozen=True, slots=True)
class ExhaustReference:
    """What the conversion to the reference exhaust volume needs."""

    exhaust_flow_m3h: float
    cooking_heads: float

    @property
    def factor(self) -> float:
        return self.exhaust_flow_m3h / (self.cooking_heads * REFERENCE_FLOW_M3H)


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number")
    return float(value)


def parse_reference(attrs: Mapping[str, Any]) -> ExhaustReference | None:
    """Q and n from device attrs; None when neither is given; ValueError when only one is, or one is bad."""
    q, n = attrs.get(FLOW_ATTR), attrs.get(HEADS_ATTR)
    if q is None and n is None:
        return None
    if q is None or n is None:
        raise ValueError(f"{FLOW_ATTR} and {HEADS_ATTR} go together (C_ref = C x Q / (n x 2000 m3/h))")
    return ExhaustReference(_positive(FLOW_ATTR, q), _positive(HEADS_ATTR, n))


def reference_for(extra: Mapping[str, Any]) -> ExhaustReference | None:
    """The device's exhaust reference, or None (also when malformed: the registry refuses those on import)."""
    try:
        return parse_reference(extra)
    except ValueError:
        return None


def to_reference(concentration: float, ref: ExhaustReference) -> float:
    """C_ref = C x Q / (n x 2000 m3/h)."""
    return concentration * ref.factor


def fume_average(samples: Sequence[float]) -> tuple[float | None, int]:
    """(mean of the valid samples or None, number valid): a sample below a quarter of the largest is invalid;
    fewer than three valid leave no result."""
    top = max(samples)
    valid = [x for x in samples if x >= top / 4]
    if len(valid) < MIN_VALID:
        return None, len(valid)
    return math.fsum(valid) / len(valid), len(valid)


class FumeWindow:
    """Clock-aligned 10-minute sample means; each closed sample yields the GB 18483 value of the last five
    consecutive full samples, as `(start, end, value, readings)` like a TumblingWindow, with the number of valid
    samples in `closed_count`."""

    __slots__ = ("_acc", "_last", "_missing", "_n", "_readings", "_samples", "_start", "closed_count",
                 "closed_gaps", "closed_span_s", "index", "max_gap_s", "window_s")

    def __init__(self, max_gap_s: float) -> None:
        self.window_s = SAMPLE_S * SAMPLES
        self.max_gap_s = max_gap_s
        self.index: int | None = None
        self._start = 0.0
        self._acc = 0.0
        self._n = 0
        self._missing = 0.0
        self._last = -math.inf
        self._readings: list[Any] = []
        self._samples: deque[tuple[int, float, tuple[Any, ...]]] = deque(maxlen=SAMPLES)
        self.closed_span_s = self.window_s  # only five full consecutive samples yield a value
        self.closed_gaps = 0
        self.closed_count: int | None = None

    def seen(self, t: float) -> None:
        self._last = t

    def add(self, t: float, v: float, r: Any, offset: int) -> tuple | None:
        k = int((t + offset) // SAMPLE_S)
        closed = None
        if k != self.index:
            closed = self.close()
            self.index = k
            self._start = k * SAMPLE_S - offset
            self._acc = 0.0
            self._missing = 0.0
        prev = self._last
        if t - prev > self.max_gap_s:
            self._missing += t - (prev if prev > self._start else self._start)
        self._last = t
        self._acc += v
        self._n += 1
        self._readings.append(r)
        return closed

    @property
    def end(self) -> float | None:
        return None if self.index is None else self._start + SAMPLE_S

    def close(self) -> tuple | None:
        """Close the current 10-minute sample; the GB 18483 value when five consecutive full samples stand."""
        if self.index is None or self._n == 0:
            return None
        end = self._start + SAMPLE_S
        if end - self._last > self.max_gap_s:
            self._missing += end - self._last
        k, full = self.index, self._missing == 0.0
        sample = (k, self._acc / self._n, tuple(self._readings))
        self.index, self._n, self._readings = None, 0, []
        if not full:
            self._samples.clear()  # a sample short of data breaks the run of consecutive samples
            return None
        if self._samples and self._samples[-1][0] != k - 1:
            self._samples.clear()
        self._samples.append(sample)
        if len(self._samples) < SAMPLES:
            return None
        value, valid = fume_average([s[1] for s in self._samples])
        if value is None:
            return None
        self.closed_count = valid
        return (end - self.window_s, end, value, tuple(x for s in self._samples for x in s[2]))

    def readings(self) -> tuple[Any, ...]:
        return tuple(x for s in self._samples for x in s[2]) + tuple(self._readings)

    def clear(self) -> None:
        self.index, self._n, self._readings = None, 0, []
        self._samples.clear()
