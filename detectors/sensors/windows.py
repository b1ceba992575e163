"""Window state per (device, rule): incremental, O(1) amortised per reading.

Every window keeps the raw readings it covers (the caller hashes them into evidence) next to the
running aggregate. Readings arrive in time order (the engine's reorder buffer guarantees it).

* `SampleWindow`     - averaging=sample: the value is the reading itself.
* `SlidingSum`       - leq/mean over (t - window_s, t]: running sum, re-summed exactly every few thousand
                       removals so floating-point drift cannot accumulate.
* `SlidingExtreme`   - max/min over (t - window_s, t] with a monotonic deque.
* `TumblingWindow`   - fixed windows aligned to local clock time (hour windows start on the hour); closes
                       a window when a reading of a later window arrives or `close()` is called, with the
                       coverage it had (detectors.sensors.coverage).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from detectors.sensors.averaging import energy, level

RESUM_EVERY = 4096


class SampleWindow:
    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: tuple[Any, ...] = ()

    def add(self, t: float, v: float, r: Any) -> float:
        self._last = (r,)
        return v

    def readings(self) -> tuple[Any, ...]:
        return self._last

    def clear(self) -> None:
        self._last = ()


class SlidingSum:
    """Sliding mean (leq=False) or energy-average level (leq=True)."""

    __slots__ = ("_hi", "_items", "_removed", "_sum", "leq", "window_s")

    def __init__(self, window_s: float, leq: bool) -> None:
        self.window_s = window_s
        self.leq = leq
        self._items: deque[tuple[float, float, Any]] = deque()
        self._sum = 0.0
        self._removed = 0
        self._hi = 0.0  # largest magnitude added since the last exact re-sum: bounds the rounding error

    def add(self, t: float, v: float, r: Any) -> float:
        x = 10.0 ** (v / 10.0) if self.leq else v
        items = self._items
        items.append((t, x, r))
        s = self._sum + x
        ax = x if x >= 0.0 else -x
        if ax > self._hi:
            self._hi = ax
        cutoff = t - self.window_s
        if items[0][0] <= cutoff:
            while items[0][0] <= cutoff:
                s -= items.popleft()[1]
                self._removed += 1
            # re-sum exactly now and then, and whenever the sum fell far below the largest value it held
            # (cancellation error is ~ largest * 1e-16 * operations)
            if self._removed >= RESUM_EVERY or (self._hi > 0.0 and abs(s) <= self._hi * 1e-4):
                self._removed = 0
                s = math.fsum(i[1] for i in items)
                self._hi = max(abs(i[1]) for i in items)
        self._sum = s
        m = s / len(items)
        if self.leq:
            return 10.0 * math.log10(m) if m > 0.0 else -math.inf
        return m

    def value(self) -> float:
        if not self._items:
            raise ValueError("empty window")
        m = math.fsum(i[1] for i in self._items) / len(self._items)
        return level(m) if self.leq else m

    def readings(self) -> tuple[Any, ...]:
        return tuple(i[2] for i in self._items)

    def clear(self) -> None:
        self._items.clear()
        self._sum = 0.0
        self._removed = 0
        self._hi = 0.0


class SlidingExtreme:
    """Sliding max (sign=1) or min (sign=-1)."""

    __slots__ = ("_items", "_mono", "sign", "window_s")

    def __init__(self, window_s: float, sign: int) -> None:
        self.window_s = window_s
        self.sign = sign
        self._items: deque[tuple[float, Any]] = deque()
        self._mono: deque[tuple[float, float]] = deque()  # (t, sign*v), decreasing

    def add(self, t: float, v: float, r: Any) -> float:
        k = self.sign * v
        self._items.append((t, r))
        mono = self._mono
        while mono and mono[-1][1] <= k:
            mono.pop()
        mono.append((t, k))
        cutoff = t - self.window_s
        while self._items[0][0] <= cutoff:
            self._items.popleft()
        while mono[0][0] <= cutoff:
            mono.popleft()
        return self.sign * mono[0][1]

    def readings(self) -> tuple[Any, ...]:
        return tuple(i[1] for i in self._items)

    def clear(self) -> None:
        self._items.clear()
        self._mono.clear()


class TumblingWindow:
    """Fixed windows [k*w - offset, (k+1)*w - offset) in local time; `add` returns the closed window, if any.

    A closed window is `(start_ts, end_ts, value, readings)`; its coverage stays in `closed_span_s` (the window's
    length less the time gaps longer than `max_gap_s` took from it, see detectors.sensors.coverage),
    `closed_gaps` and `closed_count` (clock-aligned units of `count_unit_s` holding data; None without a unit)
    until the next window closes.
    """

    __slots__ = ("_acc", "_gaps", "_last", "_missing", "_n", "_readings", "_start", "_unit", "_units", "averaging",
                 "closed_count", "closed_gaps", "closed_span_s", "count_unit_s", "index", "max_gap_s", "window_s")

    def __init__(self, window_s: float, averaging: str, max_gap_s: float = math.inf,
                 count_unit_s: float | None = None) -> None:
        self.window_s = window_s
        self.averaging = averaging
        self.max_gap_s = max_gap_s
        self.count_unit_s = count_unit_s
        self.index: int | None = None
        self._start = 0.0
        self._acc = 0.0
        self._n = 0
        self._missing = 0.0
        self._gaps = 0
        self._unit = -1
        self._units = 0
        self._last = -math.inf  # the stream's latest reading, also outside the rule's period (see `seen`)
        self._readings: list[Any] = []
        self.closed_span_s = 0.0
        self.closed_gaps = 0
        self.closed_count: int | None = None

    def seen(self, t: float) -> None:
        """A reading the window does not take (outside the rule's period) still shows the data ran on up to t."""
        self._last = t

    def add(self, t: float, v: float, r: Any, offset: int) -> tuple | None:
        k = int((t + offset) // self.window_s)
        closed = None
        if k != self.index:
            closed = self.close()
            self.index = k
            self._start = k * self.window_s - offset
            self._acc = -math.inf if self.averaging == "max" else math.inf if self.averaging == "min" else 0.0
            self._missing = 0.0
            self._gaps = 0
            self._units = 0
        prev = self._last
        if t - prev > self.max_gap_s:
            lost = t - (prev if prev > self._start else self._start)
            if lost > 0.0:  # a first reading right at the window's start misses nothing
                self._missing += lost
                self._gaps += 1
        self._last = t
        if self.count_unit_s is not None:
            u = int((t + offset) // self.count_unit_s)
            if u != self._unit:
                self._unit = u
                self._units += 1
        a = self.averaging
        if a == "leq":
            self._acc += 10.0 ** (v / 10.0)
        elif a == "mean":
            self._acc += v
        elif a == "max":
            self._acc = max(self._acc, v)
        else:
            self._acc = min(self._acc, v)
        self._n += 1
        self._readings.append(r)
        return closed

    @property
    def end(self) -> float | None:
        return None if self.index is None else self._start + self.window_s

    def close(self) -> tuple | None:
        """Close the current window (if it holds readings) and return it."""
        if self.index is None or self._n == 0:
            return None
        if self.averaging == "leq":
            value = level(self._acc / self._n)
        elif self.averaging == "mean":
            value = self._acc / self._n
        else:
            value = self._acc
        end = self._start + self.window_s
        missing, gaps = self._missing, self._gaps
        if end - self._last > self.max_gap_s:
            missing += end - self._last
            gaps += 1
        self.closed_span_s = self.window_s - missing
        self.closed_gaps = gaps
        self.closed_count = self._units if self.count_unit_s is not None else None
        out = (self._start, end, value, tuple(self._readings))
        self.index = None
        self._n = 0
        self._readings = []
        return out

    def readings(self) -> tuple[Any, ...]:
        return tuple(self._readings)

    def clear(self) -> None:
        self.index = None
        self._n = 0
        self._readings = []


def make_window(averaging: str, window_s: float, window_kind: str, max_gap_s: float = math.inf,
                count_unit_s: float | None = None) -> Any:
    if averaging == "sample":
        return SampleWindow()
    if window_kind == "tumbling":
        return TumblingWindow(window_s, averaging, max_gap_s, count_unit_s)
    if averaging in ("leq", "mean"):
        return SlidingSum(window_s, averaging == "leq")
    return SlidingExtreme(window_s, 1 if averaging == "max" else -1)


__all__ = ["SampleWindow", "SlidingExtreme", "SlidingSum", "TumblingWindow", "energy", "make_window"]
