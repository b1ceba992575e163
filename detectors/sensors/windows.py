"""Window state per (device, rule): incremental, O(1) amortised per reading.

Every window keeps the raw readings it covers (the caller hashes them into evidence) next to the
running aggregate. Readings arrive in time order (the engine's reorder buffer guarantees it).

* `SampleWindow`     - averaging=sample: the value is the reading itself.
* `SlidingSum`       - leq/mean over (t - window_s, t]: running sum, re-summed exactly every few thousand
                       removals so floating-point drift cannot accumulate.
* `SlidingExtreme`   - max/min over (t - window_s, t] with a monotonic deque.
* `TumblingWindow`   - fixed windows aligned to local clock time (hour windows start on the hour); closes
                       a window when a reading of a later window arrives or `close()` is called.
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

    A closed window is `(start_ts, end_ts, value, readings)`.
    """

    __slots__ = ("_acc", "_n", "_readings", "_start", "averaging", "index", "window_s")

    def __init__(self, window_s: float, averaging: str) -> None:
        self.window_s = window_s
        self.averaging = averaging
        self.index: int | None = None
        self._start = 0.0
        self._acc = 0.0
        self._n = 0
        self._readings: list[Any] = []

    def add(self, t: float, v: float, r: Any, offset: int) -> tuple[float, float, float, tuple[Any, ...]] | None:
        k = int((t + offset) // self.window_s)
        closed = None
        if k != self.index:
            closed = self.close()
            self.index = k
            self._start = k * self.window_s - offset
            self._acc = -math.inf if self.averaging == "max" else math.inf if self.averaging == "min" else 0.0
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

    def close(self) -> tuple[float, float, float, tuple[Any, ...]] | None:
        """Close the current window (if it holds readings) and return it."""
        if self.index is None or self._n == 0:
            return None
        if self.averaging == "leq":
            value = level(self._acc / self._n)
        elif self.averaging == "mean":
            value = self._acc / self._n
        else:
            value = self._acc
        out = (self._start, self._start + self.window_s, value, tuple(self._readings))
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


def make_window(averaging: str, window_s: float, window_kind: str) -> Any:
    if averaging == "sample":
        return SampleWindow()
    if window_kind == "tumbling":
        return TumblingWindow(window_s, averaging)
    if averaging in ("leq", "mean"):
        return SlidingSum(window_s, averaging == "leq")
    return SlidingExtreme(window_s, 1 if averaging == "max" else -1)


__all__ = ["SampleWindow", "SlidingExtreme", "SlidingSum", "TumblingWindow", "energy", "make_window"]
