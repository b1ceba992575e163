"""The simulated clock of the demo: starts in the past at a chosen local time, runs `speed` times faster
than real time, and never runs ahead of the real now (the gateway dead-letters future timestamps)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
# 17:30 local: the dinner-time fume episode comes first, then the evening dust and the night construction
# noise, so every episode is reached within ~3 real minutes at the default 120x (see scenario.py).
DEFAULT_START = dtime(17, 30)


def sim_start(real_now: datetime, local_start: dtime = DEFAULT_START, *, min_lag: timedelta = timedelta(hours=24),
              tz: ZoneInfo = LOCAL_TZ) -> datetime:
    """The latest `local_start` (wall time in `tz`) that lies at least `min_lag` before `real_now`, in UTC.

    At least 24 h of lag means a whole simulated day can play before the clock catches up with real time.
    """
    local_now = real_now.astimezone(tz)
    day = (local_now - min_lag).date()
    candidate = datetime.combine(day, local_start, tz)
    if candidate > local_now - min_lag:
        candidate = datetime.combine(day - timedelta(days=1), local_start, tz)
    return candidate.astimezone(UTC)


class SimClock:
    """sim_now = min(start + speed * real elapsed, real now). `wall` is injectable for tests."""

    def __init__(self, start: datetime, speed: float, *, wall: Callable[[], float] = time.time) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.start = start.astimezone(UTC)
        self.speed = speed
        self._wall = wall
        self._t0 = wall()

    def real_now(self) -> datetime:
        return datetime.fromtimestamp(self._wall(), UTC)

    def _both(self) -> tuple[datetime, datetime]:
        wall = self._wall()  # one reading of the wall clock, so sim and real are compared consistently
        return self.start + timedelta(seconds=(wall - self._t0) * self.speed), datetime.fromtimestamp(wall, UTC)

    def now(self) -> datetime:
        sim, real = self._both()
        return min(sim, real)

    def caught_up(self) -> bool:
        """True once the simulated time has reached real time (from then on it runs at 1x)."""
        sim, real = self._both()
        return sim >= real
