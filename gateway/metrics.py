"""Prometheus metrics of the gateway: every counter an operator would watch.

One `Metrics` object per gateway, on its own registry, so several gateways (or tests) in one process do not
share counters.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.messages_received = Counter(
            "enforcegw_messages_received_total", "MQTT messages received, by route kind", ["kind"], registry=r
        )
        self.http_ingest = Counter(
            "enforcegw_http_ingest_requests_total",
            "Device readings posted over HTTP (POST /api/ingest/readings), by how they were answered: stored,"
            " duplicate, dead_letter (refused input, also counted in messages_received and dead_letters),"
            " wrong_device, queue_full, timeout, unavailable", ["result"], registry=r,
        )
        self.readings_stored = Counter("enforcegw_readings_stored_total", "Readings committed", registry=r)
        self.readings_duplicate = Counter(
            "enforcegw_readings_duplicate_total", "Readings dropped as redeliveries of stored ones", registry=r
        )
        self.poses_stored = Counter("enforcegw_poses_stored_total", "Poses committed", registry=r)
        self.poses_duplicate = Counter("enforcegw_poses_duplicate_total", "Poses already stored", registry=r)
        self.dead_letters = Counter(
            "enforcegw_dead_letters_total", "Messages dead-lettered, by reason", ["reason"], registry=r
        )
        self.conflicts = Counter(
            "enforcegw_ingest_conflicts_total",
            "Messages refused because a different value is stored under their key (each one a 'conflict' dead "
            "letter), by row kind", ["kind"], registry=r,
        )
        self.device_events_stored = Counter(
            "enforcegw_device_events_stored_total", "Device events (status, DJI events, topology) committed",
            registry=r,
        )
        self.device_events_duplicate = Counter(
            "enforcegw_device_events_duplicate_total", "Device events already stored (redeliveries)", registry=r
        )
        self.gc_pause = Histogram(
            "enforcegw_gc_pause_seconds", "Cyclic garbage collector pauses (all threads stop), by generation",
            ["generation"], registry=r, buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
        )
        self.batch_rows = Histogram(
            "enforcegw_batch_rows", "Rows per committed batch", registry=r,
            buckets=(1, 10, 50, 100, 500, 1000, 2500, 5000, 10000, 25000),
        )
        self.flush_seconds = Histogram(
            "enforcegw_flush_seconds", "Time to commit one batch", registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.commit_delay = Histogram(
            "enforcegw_ingest_commit_delay_seconds", "Oldest message of a batch: receipt -> batch committed",
            registry=r, buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5, 5),
        )
        self.queue_depth = Gauge("enforcegw_ingest_queue_depth", "Messages waiting for the writer", registry=r)
        self.queue_full = Counter(
            "enforcegw_ingest_queue_full_total", "Times the MQTT thread waited on a full queue", registry=r
        )
        self.store_errors = Counter(
            "enforcegw_store_errors_total", "Failed batch commits (retried; messages stay unacknowledged)",
            registry=r,
        )
        self.mqtt_connected = Gauge("enforcegw_mqtt_connected", "1 while connected to the broker", registry=r)
        self.mqtt_reconnects = Counter("enforcegw_mqtt_connects_total", "Broker connections made", registry=r)
        self.alert_events = Counter(
            "enforcegw_alert_events_total", "Alert lifecycle events (new, update, end) by kind", ["kind", "type"],
            registry=r,
        )
        self.alert_latency = Histogram(
            "enforcegw_alert_latency_seconds",
            "Gateway receipt of the reading that opened an alert -> alert row committed and published", registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5, 5, 10),
        )
        self.alert_handle_seconds = Histogram(
            "enforcegw_alert_handle_seconds", "Storing one alert event with its evidence, by event type", ["type"],
            registry=r, buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
        )
        self.alert_queue_wait = Histogram(
            "enforcegw_alert_queue_wait_seconds", "Committed batch handed to the rule engine -> taken up",
            registry=r, buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5),
        )
        self.alert_sink_dropped = Counter(
            "enforcegw_alert_sink_dropped_total", "Alert changes a sink's full queue dropped (oldest first)",
            ["sink"], registry=r)
        self.alert_sink_errors = Counter(
            "enforcegw_alert_sink_errors_total", "Alert changes a sink failed to deliver", ["sink"], registry=r)
        self.alert_errors = Counter("enforcegw_alert_errors_total", "Failures while processing alerts", registry=r)
        self.alert_queue_depth = Gauge(
            "enforcegw_alert_queue_depth", "Committed reading batches waiting for the rule engine", registry=r
        )
        self.zones_loaded = Gauge("enforcegw_zones_loaded", "Zones in the active geofence index", registry=r)
        self.no_fly_events = Counter(
            "enforcegw_no_fly_events_total", "Drones entering/leaving active no-fly zones", ["type"], registry=r
        )
        self.worker_up = Gauge(
            "enforcegw_worker_up", "1 while a long-lived worker runs (0: dead, restarting or stalled)", ["worker"],
            registry=r,
        )
        self.worker_failures = Counter(
            "enforcegw_worker_failures_total", "Deaths of a long-lived worker", ["worker"], registry=r
        )
        self.worker_restarts = Counter(
            "enforcegw_worker_restarts_total", "Restarts of a long-lived worker after it died", ["worker"],
            registry=r,
        )
        self.http_refused = Counter(
            "enforcegw_http_requests_refused_total", "Malformed HTTP requests refused, by status", ["status"],
            registry=r,
        )
        self.readings_late = Counter(
            "enforcegw_readings_late_total",
            "Readings the rule engine skipped as older than their stream allows (alerts.lateness_s), by metric",
            ["metric"], registry=r,
        )
        self.alert_retries = Counter(
            "enforcegw_alert_retries_total",
            "Alert events retried after the store failed them, by reason (store_unavailable, error)", ["reason"],
            registry=r,
        )
        self.alert_failed = Counter(
            "enforcegw_alert_events_failed_total",
            "Alert events given up after retries (each kept in alert_failures with its data)", registry=r,
        )
