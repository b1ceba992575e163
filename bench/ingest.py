"""Ingest benchmark: the gateway end to end against the raw limits, measured in the same run.

  python bench/ingest.py [--messages 1000000] [--publishers 4] [--database-url URL]

Drain method: N QoS 1 readings are first queued in a private Mosquitto (docker/mosquitto.conf, so none are
dropped) for a persistent session; then the consumer connects and drains them. Publisher speed and CPU
then don't pollute the consumer's figure, and every consumer gets the same backlog.
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
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.conftest import free_port, mosquitto_process  # noqa: E402

console = Console()
TOPIC = "enf/sensor/bench-{i}/reading"


def payload_lines(device: int, n: int, start: datetime) -> bytes:
    lines = []
    for seq in range(n):
        t = (start + timedelta(milliseconds=seq * 10)).isoformat()
        lines.append(json.dumps({"ts": t, "seq": seq, "readings": {"LAeq": 50 + seq % 30}}, separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode()


def publish_backlog(port: int, publishers: int, per_pub: int) -> float:
    start = datetime.now(UTC) - timedelta(days=1)
    bodies = [payload_lines(i, per_pub, start) for i in range(publishers)]
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(["mosquitto_pub", "-p", str(port), "-q", "1", "-l", "-t", TOPIC.format(i=i)],
                         stdin=subprocess.PIPE)
        for i in range(publishers)
    ]
    for p, body in zip(procs, bodies, strict=True):
        p.stdin.write(body)
        p.stdin.close()
    for p in procs:
        if p.wait() != 0:
            raise SystemExit("mosquitto_pub failed")
    return time.perf_counter() - t0


RAW_SUBSCRIBER = r"""
import sys, time, threading
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
port, n, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
done = threading.Event(); state = {"n": 0, "t0": None}
def on_message(c, u, m):
    if state["t0"] is None: state["t0"] = time.perf_counter()
    state["n"] += 1
    if state["n"] >= n: state["t1"] = time.perf_counter(); done.set()
def on_connect(c, u, f, rc, p): c.subscribe("enf/sensor/+/reading", qos=1)
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="raw-sub", protocol=mqtt.MQTTv5)
c.on_message, c.on_connect = on_message, on_connect
props = Properties(PacketTypes.CONNECT); props.SessionExpiryInterval = 3600
c.connect("127.0.0.1", port, clean_start=False, properties=props)
if mode == "session":
    c.loop_start(); time.sleep(1); c.loop_stop(); c.disconnect(); sys.exit(0)
c.loop_start(); done.wait(600); c.loop_stop()
print(state["n"], state["t1"] - state["t0"])
"""


def raw_paho(port: int, n: int, publishers: int) -> float:
    run = lambda mode: subprocess.run(  # noqa: E731
        [sys.executable, "-c", RAW_SUBSCRIBER, str(port), str(n), mode], capture_output=True, text=True, check=True
    )
    run("session")
    publish_backlog(port, publishers, n // publishers)
    got, secs = run("drain").stdout.split()
    assert int(got) == n, f"raw subscriber got {got} of {n}"
    return n / float(secs)


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


def metric(port: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def gateway(db: str, port: int, n: int, publishers: int, tmp: Path) -> tuple[float, list[tuple[int, float]], int]:
    http = free_port()
    env = {**os.environ, "ENFORCEGW_DATABASE__URL": db, "ENFORCEGW_MQTT__URL": f"mqtt://127.0.0.1:{port}",
           "ENFORCEGW_MQTT__CLIENT_ID": "bench-gw", "ENFORCEGW_API__LISTEN": f"127.0.0.1:{http}",
           "ENFORCEGW_DATA_DIR": str(tmp), "ENFORCEGW_LOG__LEVEL": "WARNING"}
    cmd = [sys.executable, "-m", "gateway.cli", "run"]

    def start() -> subprocess.Popen:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if metric(http, "enforcegw_mqtt_connected") == 1:
                    return proc
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("gateway did not start")

    proc = start()  # creates the persistent session
    proc.terminate()
    proc.wait(30)
    publish_backlog(port, publishers, n // publishers)
    proc = start()
    samples: list[tuple[int, float]] = []
    t0 = time.perf_counter()
    stored = 0
    with tqdm(total=n, desc="gateway", unit="rd") as bar:
        while stored < n and time.perf_counter() - t0 < 900:
            time.sleep(0.25)
            now = int(metric(http, "enforcegw_readings_stored_total"))
            bar.update(now - stored)
            stored = now
            samples.append((stored, rss_mb(proc.pid)))
    secs = time.perf_counter() - t0
    proc.terminate()
    proc.wait(60)
    return n / secs, samples, stored


def bench_database(url: str | None) -> tuple[str, str]:
    url = url or os.environ.get("ENFORCEGW_TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    name = f"enforcegw_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(url)
    params["dbname"] = name
    return url, make_conninfo(**params)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--publishers", type=int, default=4)
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
        with tempfile.TemporaryDirectory() as tmp, mosquitto_process() as mqtt_url:
            port = int(mqtt_url.rsplit(":", 1)[1])
            console.print(f"{n:,} readings, {args.publishers} publishers, time series: {mode}")
            paho_rate = raw_paho(port, n, args.publishers)
            copy_rate = raw_copy(db, n)
            gw_rate, samples, _stored = gateway(db, port, n, args.publishers, Path(tmp))
        with psycopg.connect(db) as conn:
            rows = conn.execute("SELECT count(*) FROM readings").fetchone()[0]
            dead = conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{conninfo_to_dict(db)["dbname"]}" WITH (FORCE)')
    table = Table("measure", "readings/s", "gateway / this")
    table.add_row("raw: bare paho subscriber (QoS 1, count only)", f"{paho_rate:,.0f}", f"{gw_rate / paho_rate:.2f}")
    table.add_row("raw: bare COPY of the same rows", f"{copy_rate:,.0f}", f"{gw_rate / copy_rate:.2f}")
    table.add_row("gateway: publish -> rows committed", f"{gw_rate:,.0f}", "1.00")
    console.print(table)
    lost = n - rows
    console.print(f"rows stored {rows:,} of {n:,} (lost {lost}), dead letters {dead}")
    marks = [samples[int(len(samples) * f)] for f in (0.1, 0.5, 0.9)] + [samples[-1]]
    console.print("gateway RSS (MB) at stored=" + ", ".join(f"{s:,}: {m:.0f}" for s, m in marks))
    ok = lost == 0 and gw_rate >= 0.5 * paho_rate
    console.print(f"goal (>= 50% of bare paho, zero loss): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
