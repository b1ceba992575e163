"""Prometheus metrics of the stream workers, on the registry the gateway gives them."""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ingest.video.state import StreamState

OUTCOMES = ("decoded", "kept", "dropped_sampling", "dropped_queue", "corrupt")


class VideoMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.state = Gauge("enforcegw_stream_state", "1 for the stream's current state, 0 for the others",
                           ["stream", "state"], registry=r)
        self.frames = Counter(
            "enforcegw_stream_frames_total",
            "Frames per stream by outcome: decoded (every frame decoded or MJPEG part received), kept (handed to "
            "detection), dropped_sampling (above the target fps, never converted), dropped_queue (dropped oldest "
            "first by a full detection queue), corrupt (failed to decode, skipped)", ["stream", "outcome"],
            registry=r)
        self.reconnects = Counter("enforcegw_stream_reconnects_total", "Reconnect attempts after a stream was lost "
                                  "or failed to open", ["stream"], registry=r)
        self.decode = Histogram(
            "enforcegw_stream_decode_seconds", "Decoding one frame (and converting it to BGR when kept), all streams",
            registry=r, buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32))
        self.lag = Gauge("enforcegw_stream_lag_seconds", "Now minus the capture time of the stream's last frame "
                         "handed on, when it was handed on", ["stream"], registry=r)

    def set_state(self, stream: str, state: StreamState) -> None:
        for s in StreamState:
            self.state.labels(stream, s.value).set(1.0 if s is state else 0.0)

    def count(self, stream: str, outcome: str, n: int = 1) -> None:
        if n > 0:
            self.frames.labels(stream, outcome).inc(n)

    def dropped_queue(self, stream: str) -> None:
        """For the frame stage's `on_dropped`: a frame this stream handed on was dropped by a full queue."""
        self.frames.labels(stream, "dropped_queue").inc()

    def reconnect(self, stream: str) -> None:
        self.reconnects.labels(stream).inc()

    def observe_decode(self, seconds: float) -> None:
        self.decode.observe(seconds)

    def set_lag(self, stream: str, seconds: float) -> None:
        self.lag.labels(stream).set(seconds)

    def remove(self, stream: str) -> None:
        """Forget a stream that is no longer configured."""
        for s in StreamState:
            _remove(self.state, stream, s.value)
        for outcome in OUTCOMES:
            _remove(self.frames, stream, outcome)
        _remove(self.reconnects, stream)
        _remove(self.lag, stream)


def _remove(metric: Gauge | Counter, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(*labels)
