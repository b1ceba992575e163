"""Down-sampling a source to the target fps by capture time, without drift and without a backlog.

Time is cut into slots of 1/target_fps seconds counted from the first frame; a frame is kept when it is the first
one in a slot later than the last kept one's. The slot grid never moves with the frames, so jitter in the frames'
times neither accumulates nor shifts the phase, the kept rate over any span is the target to within one frame,
and a source slower than the target has every frame in a slot of its own, so all are kept. Time running
backwards by more than a slot (a PTS reset, a re-anchored stream) starts a new grid at that frame.
"""

from __future__ import annotations

import math
from datetime import datetime

_EPS = 1e-4  # in slots: a frame on a boundary, give or take float rounding of epoch seconds, opens the new slot


class FpsSampler:
    def __init__(self, target_fps: float) -> None:
        if not target_fps > 0 or math.isinf(target_fps):
            raise ValueError("target_fps must be a positive finite number")
        self.target_fps = float(target_fps)
        self.period = 1.0 / self.target_fps
        self._origin: float | None = None
        self._last_slot = 0
        self._last_t = 0.0

    def reset(self) -> None:
        """Forget the grid: the next frame is kept and starts a new one (a reconnected source)."""
        self._origin = None

    def keep(self, t: float | datetime) -> bool:
        """Whether the frame captured at `t` (seconds, or a datetime) is kept."""
        ts = t.timestamp() if isinstance(t, datetime) else float(t)
        if self._origin is None or ts < self._last_t - self.period:
            self._origin, self._last_slot, self._last_t = ts, 0, ts
            return True
        self._last_t = max(self._last_t, ts)
        slot = math.floor((ts - self._origin) / self.period + _EPS)
        if slot > self._last_slot:
            self._last_slot = slot
            return True
        return False
