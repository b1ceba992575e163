"""Prometheus metrics of the detection stage, on the registry the gateway gives them: what the gate decided and
why, how long inference took, and the video alerts written."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from detectors.video.gate import GateDecision


class DetectionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.gate = Counter(
            "enforcegw_detection_frames_total",
            "Frames the detection stage saw, per stream: decision inferred or skipped, with the gate's reason "
            "(first_frame, active_tracks, motion, recheck, gate_off; no_motion, recalibrating, invalid_frame)",
            ["stream", "decision", "reason"], registry=r)
        self.inference = Histogram(
            "enforcegw_detection_inference_seconds", "Detection and tracking of one inferred frame, all streams",
            registry=r, buckets=(0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56))
        self.alerts = Counter("enforcegw_video_alerts_total", "Video alert events written, by rule and event type "
                              "(new, update, end) and clips", ["rule", "type"], registry=r)
        self.failed = Counter("enforcegw_video_alert_failures_total", "Video alert events or clips the store did "
                              "not take (the error is logged; the stream goes on)", ["stream"], registry=r)

    def observe_gate(self, stream: str, decision: GateDecision) -> None:
        self.gate.labels(stream, "inferred" if decision.infer else "skipped", decision.reason.value).inc()

    def observe_inference(self, seconds: float) -> None:
        self.inference.observe(seconds)

    def count_alert(self, rule: str, type_: str) -> None:
        self.alerts.labels(rule, type_).inc()
