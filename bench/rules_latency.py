"""End-to-end alert latency: MQTT publish of the reading that crosses the limit -> alert row committed and
its `enf/alerts/...` message received, under a background load of readings (goal: p99 <= 200 ms at
5,000 readings/s). Called by bench/rules_bench.py; runs `enforcegw run` as a separate process against a private
Mosquitto and a fresh database.

Rule: GB 12523 night LAmax (70 dB(A), per sample, sustained 0): one reading above it opens an alert, so the
latency is that reading's trip and nothing else. Background: devices in the same construction site sending
LAeq/LAmax below the limits, so the engine evaluates them all (stream time advancing with real time, so
alerts end on the same schedule as in the field). Latency = MQTT publish of the crossing reading -> the alert's MQTT
message received; the alert row commits before that message is sent.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import psycopg
from prometheus_client.parser import text_string_to_metric_families

from gateway.catalogue import load_catalogue, zone_kinds
from gateway.config import Settings
from gateway.devices import import_devices
from gateway.store.migrate import apply_migrations
from gateway.store.zones import upsert_zones
from geo.geojson_io import load_zones
from testkit.databases import bench_database, drop_database
from testkit.gateway_http import metric, wait_gateway
from testkit.paths import REPO
from testkit.services import free_port, mosquitto_process

LEGAL = {"legal_review_ref": "LR-1", "technical_review_ref": "TR-1", "calibration_cert": "CAL-1",
         "calibration_valid_until": "2099-12-31", "public_notice": "https://example.org/devices"}

class Background:
    """Background load from `mosquitto_pub -l` processes (one per device; C, so the load generator takes
    little of the 2 cores from the gateway), paced in 100 ms steps to `rate` readings/s. Each message carries
    two readings (LAeq, LAmax) below every limit; stream time advances with real time."""

    def __init__(self, port: int, devices: int, rate: float, seconds: float, t0: datetime) -> None:
        self.devices, self.seconds = devices, seconds
        self.per_step = max(1, round(rate / 2 / devices / 10))  # messages per device per 100 ms
        n = int(self.per_step * 10 * seconds) + 1
        dt = 0.1 / self.per_step  # stream time advances with real time, as it does for real sensors
        self.lines = [[(json.dumps({"ts": (t0 + timedelta(seconds=k * dt)).isoformat(), "seq": k,
                                    "readings": {"LAeq": 48.0, "LAmax": 52.0}}) + "\n").encode()
                       for k in range(n)] for _ in range(devices)]
        self.procs = [subprocess.Popen(["mosquitto_pub", "-p", str(port), "-q", "1", "-l",
                                        "-t", f"enf/sensor/bg-{d}/reading"], stdin=subprocess.PIPE)
                      for d in range(devices)]
        self.sent = 0

    def run(self) -> None:
        start = time.perf_counter()
        step = 0
        while time.perf_counter() - start < self.seconds:
            for d, p in enumerate(self.procs):
                chunk = self.lines[d][step * self.per_step:(step + 1) * self.per_step]
                p.stdin.write(b"".join(chunk))
                p.stdin.flush()
                self.sent += len(chunk) * 2
            step += 1
            time.sleep(max(0.0, start + step * 0.1 - time.perf_counter()))
        for p in self.procs:
            p.stdin.close()
            p.wait()


def _setup(db: str, n_bg: int, n_trig: int) -> None:
    kinds = zone_kinds(load_catalogue(Settings()))
    site = [[113.10, 23.00], [113.11, 23.00], [113.11, 23.01], [113.10, 23.01], [113.10, 23.00]]
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [site]},
         "properties": {"id": "site-1", "name": "site", "kind": "construction_site"}}]}
    devices = [{"id": f"bg-{i}", "kind": "sensor", "name": f"bg {i}", "location": {"lon": 113.105, "lat": 23.005},
                **LEGAL} for i in range(n_bg)]
    devices += [{"id": f"trig-{i}", "kind": "sensor", "name": f"trigger {i}",
                 "location": {"lon": 113.105, "lat": 23.005}, **LEGAL} for i in range(n_trig)]
    apply_migrations(db)
    with psycopg.connect(db) as conn:
        upsert_zones(conn, load_zones(fc, kinds=kinds).zones)
        import_devices(conn, devices)


# Gateway stages, from its own histograms: how many observations took over 100 ms (where a tail comes from).
SLOW_STAGES = {
    "enforcegw_ingest_commit_delay_seconds": "ingest commit (receipt -> committed)",
    "enforcegw_flush_seconds": "batch write",
    "enforcegw_alert_queue_wait_seconds": "alert queue wait",
    "enforcegw_alert_handle_seconds": "alert handling",
    "enforcegw_gc_pause_seconds": "GC pause",
}


def slow_stages(http: int, over: float = 0.1) -> dict[str, int]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=5).read().decode()
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in SLOW_STAGES:
            continue
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if k != "le"}
            key = " ".join([SLOW_STAGES[family.name], *(f"{k}={v}" for k, v in sorted(labels.items()))])
            if sample.name.endswith("_count"):
                counts[key] = counts.get(key, 0) + sample.value
            elif sample.name.endswith("_bucket") and float(sample.labels["le"]) == over:
                counts[key] = counts.get(key, 0) - sample.value
    return {k: int(v) for k, v in counts.items() if v}


WARMUP = 10  # alerts before measuring: the first ones pay for cold caches and first writes, not steady state


def run_e2e(rate: float = 5000.0, triggers: int = 60, bg_devices: int = 10) -> dict:
    server, db = bench_database(None)
    measured = triggers
    triggers += WARMUP
    _setup(db, bg_devices, triggers)
    # A night while GB 12523-2011 was in force: its night LAmax is the per-sample rule this run times (GB 12523-2025,
    # in force since 2026-01-01, has no Lmax rule). Stream time, not the wall clock, decides which rule applies.
    night = datetime(2025, 12, 30, 22, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    arrivals: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp, mosquitto_process() as url:
            port = int(url.rsplit(":", 1)[1])
            http = free_port()
            env = {**os.environ, "ENFORCEGW_DATABASE__URL": db, "ENFORCEGW_MQTT__URL": url,
                   "ENFORCEGW_API__LISTEN": f"127.0.0.1:{http}", "ENFORCEGW_DATA_DIR": tmp,
                   "ENFORCEGW_LOG__LEVEL": "WARNING", "ENFORCEGW_MQTT__CLIENT_ID": f"bench-{uuid.uuid4().hex[:6]}"}
            gw = subprocess.Popen([sys.executable, "-m", "gateway.cli", "run"], env=env, cwd=REPO)
            wait_gateway(http)
            sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
            ready = threading.Event()

            def on_message(_c: object, _u: object, m: mqtt.MQTTMessage) -> None:
                after = json.loads(m.payload)["after"]
                arrivals.setdefault(after["device_id"], time.perf_counter())

            sub.on_message = on_message
            sub.on_subscribe = lambda *_a: ready.set()
            sub.connect("127.0.0.1", port)
            sub.subscribe("enf/alerts/#", qos=1)
            sub.loop_start()
            ready.wait(10)
            pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
            pub.connect("127.0.0.1", port)
            pub.loop_start()
            # Warm-up: one quiet reading per trigger device, then the background load.
            for i in range(triggers):
                pub.publish(f"enf/sensor/trig-{i}/reading", json.dumps(
                    {"ts": night.isoformat(), "seq": 0, "readings": {"LAmax": 50.0}}), qos=1)
            background = Background(port, bg_devices, rate, 10 + triggers * 0.4 + 5, night)
            bg = threading.Thread(target=background.run)
            bg.start()
            time.sleep(10)  # the load reaches steady state
            stored0 = metric(http, "enforcegw_readings_stored_total")
            sent: dict[str, float] = {}
            t_load = time.perf_counter()
            for i in range(triggers):
                body = json.dumps({"ts": (night + timedelta(seconds=30 + i)).isoformat(), "seq": 1,
                                   "readings": {"LAmax": 85.0}})
                sent[f"trig-{i}"] = time.perf_counter()
                pub.publish(f"enf/sensor/trig-{i}/reading", body, qos=1)
                time.sleep(0.4)
            load_s = time.perf_counter() - t_load
            stored1 = metric(http, "enforcegw_readings_stored_total")
            deadline = time.time() + 30
            while len(arrivals) < triggers and time.time() < deadline:
                time.sleep(0.1)
            inside_s = metric(http, "enforcegw_alert_latency_seconds_sum") / max(
                1.0, metric(http, "enforcegw_alert_latency_seconds_count"))
            slow = slow_stages(http)
            if os.environ.get("BENCH_DEBUG"):
                print(urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics").read().decode())
            flush_s = metric(http, "enforcegw_flush_seconds_sum") / max(
                1.0, metric(http, "enforcegw_flush_seconds_count"))
            bg.join()
            bg_sent = background.sent
            with psycopg.connect(db) as conn:
                rows = conn.execute("SELECT count(*) FROM alerts WHERE device_id LIKE 'trig-%'").fetchone()[0]
                stray = conn.execute("SELECT count(*) FROM alerts WHERE device_id LIKE 'bg-%'").fetchone()[0]
            gw.terminate()
            gw.wait(60)
            sub.loop_stop()
            pub.loop_stop()
    finally:
        drop_database(server, db)
    by_trigger = {int(d.split("-")[1]): (arrivals[d] - sent[d]) * 1000 for d in sent if d in arrivals}
    warm = [by_trigger.pop(i) for i in range(WARMUP) if i in by_trigger]
    lat_ms = sorted(by_trigger.values())
    return {
        "triggers": measured, "alerts_received": len(lat_ms), "alert_rows": rows - len(warm), "false_alerts": stray,
        "warmup_max_ms": max(warm, default=float("nan")),
        "background_rate": (stored1 - stored0) / load_s, "background_sent": bg_sent,
        "inside_gateway_mean_ms": inside_s * 1000, "flush_mean_ms": flush_s * 1000,
        "p50_ms": statistics.median(lat_ms) if lat_ms else float("nan"),
        "p99_ms": lat_ms[min(len(lat_ms) - 1, int(len(lat_ms) * 0.99))] if lat_ms else float("nan"),
        "max_ms": lat_ms[-1] if lat_ms else float("nan"),
        # (trigger number, ms) of the slowest: stalls that repeat on a period show up as evenly spaced numbers
        "worst": sorted(by_trigger.items(), key=lambda kv: -kv[1])[:6],
        "latencies_ms": lat_ms,
        "slow_stages": slow,
    }
