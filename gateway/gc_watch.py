"""CPython cyclic-GC pauses as a Prometheus histogram.

Every thread stops while the collector runs, so a long pause lands directly on ingest and alert latency.
This is how the 100-250 ms alert latency tail was found (full collections walking window state; see
detectors.sensors.samples): operators watching `enforcegw_gc_pause_seconds` see such a regression at once.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import Histogram


class GcPauseWatch:
    def __init__(self, histogram: Histogram) -> None:
        self.histogram = histogram
        self._started: float | None = None

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.histogram.labels(str(info.get("generation", "?"))).observe(time.perf_counter() - self._started)
            self._started = None

    def install(self) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)

    def remove(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)
