"""GC pauses reach Prometheus, by generation, and the watch leaves gc.callbacks as it found them."""

from __future__ import annotations

import gc

from prometheus_client import CollectorRegistry

from gateway.gc_watch import GcPauseWatch
from gateway.metrics import Metrics


def test_collections_are_observed_by_generation() -> None:
    metrics = Metrics(CollectorRegistry())
    watch = GcPauseWatch(metrics.gc_pause)
    watch.install()
    watch.install()  # idempotent: one callback, one observation per collection
    try:
        gc.collect(2)
        gc.collect(2)
    finally:
        watch.remove()
    count = metrics.registry.get_sample_value("enforcegw_gc_pause_seconds_count", {"generation": "2"})
    assert count == 2
    assert watch not in gc.callbacks
    gc.collect(2)  # after remove(): not observed
    assert metrics.registry.get_sample_value("enforcegw_gc_pause_seconds_count", {"generation": "2"}) == 2
