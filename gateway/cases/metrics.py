"""Prometheus metrics of case delivery, on the gateway's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class CaseMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.deliveries = Gauge("enforcegw_case_deliveries", "Case deliveries in the store, by state and system",
                                ["state", "system"], registry=r)
        self.attempts = Counter("enforcegw_case_attempts_total",
                                "Delivery attempts, by system and result (2xx, 4xx, 5xx, timeout, error)",
                                ["system", "result"], registry=r)
        self.attempt_seconds = Histogram(
            "enforcegw_case_attempt_seconds", "Time from sending a task to the receiver's answer", ["system"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30), registry=r)
        self.oldest_pending = Gauge("enforcegw_case_oldest_pending_seconds",
                                    "Age of the oldest delivery not yet delivered (0: none)", registry=r)
        self.disabled = Gauge("enforcegw_case_system_disabled",
                              "1 while a case system is disabled (it answered 410 Gone): alert on it",
                              ["system"], registry=r)
        self.unrouted = Gauge("enforcegw_case_tasks_unrouted", "Tasks no configured case system matched",
                              registry=r)
        self.acks = Counter("enforcegw_case_acks_total",
                            "Receiver acknowledgements, by how they came (response, ack) and result "
                            "(recorded, refused)", ["via", "result"], registry=r)
