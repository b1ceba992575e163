"""A cap on how many lines a repeated event may write: at most `limit` per `per_s`, the rest counted.

Used where the outside world decides how often an event happens (malformed HTTP requests, late readings):
the log must say it happens without letting a flood fill the disk.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class LogThrottle:
    def __init__(self, limit: int = 10, per_s: float = 60.0, *, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or per_s <= 0:
            raise ValueError("a log throttle needs limit >= 1 and per_s > 0")
        self.limit = limit
        self.per_s = per_s
        self.clock = clock
        self._window_start = float("-inf")
        self._in_window = 0
        self._suppressed = 0
        self._lock = threading.Lock()

    def admit(self) -> int | None:
        """None: do not log this one (it is counted). Otherwise log it, saying how many were not logged since
        the previous line (the returned count)."""
        with self._lock:
            now = self.clock()
            if now - self._window_start >= self.per_s:
                self._window_start, self._in_window = now, 0
            if self._in_window >= self.limit:
                self._suppressed += 1
                return None
            self._in_window += 1
            suppressed, self._suppressed = self._suppressed, 0
            return suppressed
