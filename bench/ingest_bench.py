"""Ingest benchmark: the gateway end to end against the raw limits, measured in the same run.

  python bench/ingest_bench.py [--messages 1000000] [--publishers 4] [--window 20000] [--database-url URL]

Method: QoS 1 readings are published live by `mosquitto_pub -l` processes into a private Mosquitto
(docker/mosquitto.conf: nothing dropped) while the consumer runs. The publishers are flow-controlled: at most
`--window` messages may be published but not yet consumed. Without that, publishers outrun any Python
consumer, the broker's per-client queue grows to hundreds of thousands and Mosquitto 2.0.11 then delivers
it at a crawl (seen here: ~1-2k msg/s from a 300k backlog), which would measure the broker, not us.
  (a) raw ceilings: a bare paho subscriber process (auto-ack, counts only); a bare COPY of the same rows
  (b) the gateway process (`enforcegw run`): publish -> rows committed, zero loss checked, RSS sampled
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from testkit.databases import bench_database, drop_database
from testkit.gateway_http import metric, wait_gateway
from testkit.paths import REPO
from testkit.services import free_port, mosquitto_process

console = Console()
CHUNK = 1000


class FlowPublisher:
    """`publishers` mosquitto_pub -l processes fed line by line, never more than `window` ahead of the
    consumer's progress (`consumed()`)."""

    def __init__(self, port: int, publishers: int, n: int, window: int, consumed: Callable[[], int]) -> None:
        self.port, self.publishers, self.n, self.window, self.consumed = port, publishers, n, window, consumed
        start = datetime.now(UTC) - timedelta(days=1)
        # Payloads are made before the clock starts, so the controller takes no CPU from the consumer.
        self.chunks = [[self._lines(start, i, s0, min(CHUNK, n // publishers - s0))
                        for s0 in range(0, n // publishers, CHUNK)] for i in range(publishers)]

    @staticmethod
    def _lines(start: datetime, device: int, seq0: int, count: int) -> bytes:
        out = []
        for seq in range(seq0, seq0 + count):
            t = (start + timedelta(milliseconds=seq * 10)).isoformat()
            out.append(json.dumps({"ts": t, "seq": seq, "readings": {"LAeq": 50 + seq % 30}}, separators=(",", ":")))
        return ("\n".join(out) + "\n").encode()

    def run(self) -> None:
        procs = [subprocess.Popen(["mosquitto_pub", "-p", str(self.port), "-q", "1", "-l",
                                   "-t", f"enf/sensor/bench-{i}/reading"], stdin=subprocess.PIPE)
                 for i in range(self.publishers)]
        total = 0
        for round_ in range(len(self.chunks[0])):
            while total - self.consumed() >= self.window:
                time.sleep(0.002)
            for i, p in enumerate(procs):
                chunk = self.chunks[i][round_]
                p.stdin.write(chunk)
                p.stdin.flush()
                total += chunk.count(b"\n")
        for p in procs:
            p.stdin.close()
            if p.wait() != 0:
                raise SystemExit("mosquitto_pub failed")


RAW_SUBSCRIBER = r"""
import sys, time
import paho.mqtt.client as mqtt
port, n = int(sys.argv[1]), int(sys.argv[2])
state = {"n": 0, "t0": None}
def on_message(c, u, m):
    if state["t0"] is None: state["t0"] = time.perf_counter()
    state["n"] += 1
    if state["n"] % 500 == 0 or state["n"] >= n:
        print(state["n"], flush=True)
    if state["n"] >= n: state["t1"] = time.perf_counter()
def on_connect(c, u, f, rc, p): c.subscribe("enf/sensor/+/reading", qos=1)
def on_subscribe(*a): print("ready", flush=True)
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="raw-sub", protocol=mqtt.MQTTv5)
c.on_message, c.on_connect, c.on_subscribe = on_message, on_connect, on_subscribe
c.connect("127.0.0.1", port)
c.loop_start()
while "t1" not in state: time.sleep(0.01)
c.loop_stop()
print("done", state["t1"] - state["t0"], flush=True)
"""


def raw_paho(port: int, n: int, publishers: int, window: int) -> float:
    sub = subprocess.Popen([sys.executable, "-c", RAW_SUBSCRIBER, str(port), str(n)], stdout=subprocess.PIPE,
                           text=True)
    assert sub.stdout.readline().strip() == "ready"
    progress = {"n": 0, "secs": 0.0}

    def read() -> None:
        for line in sub.stdout:
            if line.startswith("done"):
                progress["secs"] = float(line.split()[1])
            else:
                progress["n"] = int(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    with tqdm(total=n, desc="bare paho", unit="msg") as bar:
        pub = threading.Thread(target=FlowPublisher(port, publishers, n, window, lambda: progress["n"]).run)
        pub.start()
        while sub.poll() is None:
            bar.update(progress["n"] - bar.n)
            time.sleep(0.1)
        bar.update(progress["n"] - bar.n)
        pub.join()
    reader.join()
    return n / progress["secs"]


def raw_copy(db: str, n: int) -> float:
    start = datetime.now(UTC)
    rows = [(start + timedelta(milliseconds=i), f"bench-{i % 4}", "LAeq", 50.0 + i % 30, i, start) for i in range(n)]
    with psycopg.connect(db) as conn:
        conn.execute("CREATE TEMP TABLE raw_copy (LIKE readings INCLUDING DEFAULTS)")
        t0 = time.perf_counter()
        with conn.cursor().copy("COPY raw_copy (time, device_id, metric, value, seq, received_at) FROM STDIN") as cp:
            for r in rows:
                cp.write_row(r)
        conn.commit()
        return n / (time.perf_counter() - t0)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def gateway(db: str, port: int, n: int, publishers: int, window: int,
            tmp: Path) -> tuple[float, list[tuple[int, float]]]:
    http = free_port()
    env = {**os.environ, "ENFORCEGW_DATABASE__URL": db, "ENFORCEGW_MQTT__URL": f"mqtt://127.0.0.1:{port}",
           "ENFORCEGW_MQTT__CLIENT_ID": "bench-gw", "ENFORCEGW_API__LISTEN": f"127.0.0.1:{http}",
           "ENFORCEGW_DATA_DIR": str(tmp), "ENFORCEGW_LOG__LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "run"], env=env, cwd=REPO)
    wait_gateway(http)
    stored = {"n": 0}

    def poll() -> None:
        while stored["n"] < n:
            stored["n"] = int(metric(http, "enforcegw_readings_stored_total"))
            time.sleep(0.05)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    samples: list[tuple[int, float]] = []
    publisher = FlowPublisher(port, publishers, n, window, lambda: stored["n"])
    t0 = time.perf_counter()
    pub = threading.Thread(target=publisher.run)
    pub.start()
    with tqdm(total=n, desc="gateway", unit="rd") as bar:
        while stored["n"] < n and time.perf_counter() - t0 < 1800:
            time.sleep(0.25)
            bar.update(stored["n"] - bar.n)
            samples.append((stored["n"], rss_mb(proc.pid)))
    secs = time.perf_counter() - t0
    pub.join()
    proc.terminate()
    proc.wait(60)
    return n / secs, samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--publishers", type=int, default=4)
    ap.add_argument("--window", type=int, default=20_000, help="most messages published but not yet consumed")
    ap.add_argument("--database-url")
    args = ap.parse_args()
    n = args.messages - args.messages % args.publishers
    server, db = bench_database(args.database_url)
    from gateway.devices import import_devices
    from gateway.store.migrate import apply_migrations

    mode = apply_migrations(db).mode
    with psycopg.connect(db) as conn:
        import_devices(conn, [{"id": f"bench-{i}", "kind": "sensor", "name": f"b{i}"} for i in range(args.publishers)])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            console.print(f"{n:,} readings, {args.publishers} publishers, window {args.window:,}, time series: {mode}")
            with mosquitto_process() as mqtt_url:
                paho_rate = raw_paho(int(mqtt_url.rsplit(":", 1)[1]), n, args.publishers, args.window)
            copy_rate = raw_copy(db, n)
            with mosquitto_process() as mqtt_url:
                gw_rate, samples = gateway(db, int(mqtt_url.rsplit(":", 1)[1]), n, args.publishers, args.window,
                                           Path(tmp))
        with psycopg.connect(db) as conn:
            rows = conn.execute("SELECT count(*) FROM readings").fetchone()[0]
            distinct = conn.execute("SELECT count(DISTINCT (device_id, seq)) FROM readings").fetchone()[0]
            dead = conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
    finally:
        drop_database(server, db)
    table = Table("measure", "readings/s", "gateway / this")
    table.add_row("raw: bare paho subscriber (QoS 1, count only)", f"{paho_rate:,.0f}", f"{gw_rate / paho_rate:.2f}")
    table.add_row("raw: bare COPY of the same rows", f"{copy_rate:,.0f}", f"{gw_rate / copy_rate:.2f}")
    table.add_row("gateway: publish -> rows committed", f"{gw_rate:,.0f}", "1.00")
    console.print(table)
    console.print(f"rows stored {rows:,} ({distinct:,} distinct) of {n:,}: lost {n - distinct}, dead letters {dead}")
    marks = [samples[min(len(samples) - 1, int(len(samples) * f))] for f in (0.1, 0.5, 0.9)] + [samples[-1]]
    console.print("gateway RSS (MB) at readings stored = " + ", ".join(f"{s:,}: {m:.0f}" for s, m in marks))
    ok = n - distinct == 0 and rows == distinct and gw_rate >= 0.5 * paho_rate
    console.print(f"goal (>= 50% of bare paho, zero loss, no duplicates): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
