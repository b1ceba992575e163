"""Readings the rule engine skipped as late: counted by metric, logged in aggregate.

The engine evaluates a stream's readings in time order and skips one older than what its stream has already
evaluated (beyond `alerts.lateness_s`): it is stored, but no alert sees it. Each such reading raises
`enforcegw_readings_late_total{metric}` (metric names come from the rule catalogue, so the label stays
bounded; devices do not). The log gets the first one at once and then at most one summary per `every_s`:
how many, on which metrics and devices, and how far behind the worst was, which is what `lateness_s` would
have to exceed to evaluate them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import structlog
from prometheus_client import Counter as PromCounter

from ingest.models import Reading

DEVICES_SHOWN = 5  # a summary names a few devices, not all of them


class LateReadings:
    def __init__(self, counter: PromCounter, lateness_s: float, *, every_s: float = 60.0,
                 lag: Callable[[Reading], float | None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.counter = counter
        self.lateness_s = lateness_s
        self.every_s = every_s
        self.lag = lag  # the engine's RuleEngine.lag_s, set once the engine exists
        self.clock = clock
        self._lock = threading.Lock()
        self._last_log = float("-inf")
        self._reset()
        self._log = structlog.get_logger(__name__)

    def _reset(self) -> None:
        self._count = 0
        self._metrics: Counter[str] = Counter()
        self._devices: Counter[str] = Counter()
        self._max_lag: float | None = None

    def on_late(self, reading: Reading, _reason: str) -> None:
        """The engine's `on_late` hook (alerts thread)."""
        self.counter.labels(reading.metric).inc()
        lag = self.lag(reading) if self.lag is not None else None
        with self._lock:
            self._count += 1
            self._metrics[reading.metric] += 1
            self._devices[reading.device_id] += 1
            if lag is not None and (self._max_lag is None or lag > self._max_lag):
                self._max_lag = lag
        self.flush()

    def flush(self, *, force: bool = False) -> None:
        """Log what accumulated if a line is due (or `force`, at shutdown)."""
        with self._lock:
            now = self.clock()
            if not self._count or (not force and now - self._last_log < self.every_s):
                return
            devices = [d for d, _ in self._devices.most_common(DEVICES_SHOWN)]
            fields = dict(skipped=self._count, metrics=dict(self._metrics), devices=devices,
                          more_devices=max(0, len(self._devices) - len(devices)),
                          max_lag_s=None if self._max_lag is None else round(self._max_lag, 3),
                          lateness_s=self.lateness_s)
            self._last_log = now
            self._reset()
        self._log.warning("alerts.late_readings_skipped", **fields)
