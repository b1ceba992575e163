"""Console API benchmark: the live queue, the queue's list and the review decisions, each against a raw limit
measured in the same run.

    python bench/console.py [--quick] [--clients 200] [--rate 5000] [--alerts 100000] [--database-url URL]

One gateway with the console API (`python -m api.main run`, real HTTP on a free port) against its own database
and its own Mosquitto (docker/mosquitto.conf), then:
  1. SSE latency: MQTT publish of the reading that opens an alert (GB 12523-2011 night LAmax, per sample: one
     reading over 70 dB(A) opens it) -> its `new` event at the clients of GET /api/alerts/stream, in a process of
     their own (testkit/sse_fleet.py). Four runs: 1 client and no load (the raw limit), --clients clients and no
     load, 1 client under --rate readings/s of background MQTT ingest from --bg-devices sensors
     (testkit/reading_load.py: mosquitto_pub processes), then --clients clients under that load (the goal's case).
     The same alerts' `enf/alerts/...` MQTT messages are timed beside them (the sink the rules bench times), so
     the stream's own share shows apart from the alert pipeline's. Goal: p99 <= 300 ms.
  2. GET /api/alerts with --alerts alerts in the store (COPY, testkit/alert_bulk.py): p50/p99 of the first page,
     filtered pages and cursor pages over HTTP, against the same SQL run directly. Goal: p99 <= 50 ms.
  3. Review decisions: claim + confirm / claim + dismiss pairs from concurrent operators (a token each), every
     decision with its evidence entry; against raw evidence appends (one entry per transaction, and batched) on
     a database of their own, with the sequencer running as in the gateway.
Nothing is asserted: the figures and ratios are printed, goals marked met or not.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import psutil
import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from api.alerts_read import encode_cursor, list_query
from evidence.config import EvidenceConfig
from evidence.entry import Entry
from evidence.log import EvidenceLog
from gateway.catalogue import load_catalogue, zone_kinds
from gateway.config import Settings
from gateway.devices import import_devices
from gateway.store.migrate import apply_migrations
from gateway.store.tokens import create_token
from gateway.store.zones import upsert_zones
from geo.geojson_io import load_zones
from testkit.alert_bulk import bulk_alerts
from testkit.alert_scenes import LEGAL
from testkit.bench_gateway import pct, print_cpu, start_gateway, stop_gateway
from testkit.cpu_share import CpuAccount
from testkit.databases import bench_database, create_database, drop_database
from testkit.gateway_harness import Publisher
from testkit.gateway_http import metric
from testkit.reading_load import PacedLoad
from testkit.services import mosquitto_process
from testkit.sse_fleet import FleetProcess

console = Console(width=130)
WARMUP = 10  # alerts per SSE phase before timing: the first pay for cold caches and first writes
RAMP_S = 10.0  # background load before the first timed alert, so the ingest has reached its steady state
TAIL_S = 4.0  # and after the last, so that alert is delivered under the same load
# A night while GB 12523-2011 was in force, whose night LAmax is the per-sample rule the triggers cross.
NIGHT = datetime(2025, 12, 30, 22, 5, tzinfo=ZoneInfo("Asia/Shanghai"))


def setup(db: str, n_bg: int, n_trig: int, n_operators: int) -> tuple[str, list[str]]:
    """Sensors in one construction site, background and trigger ones; a token for the fleet and one per
    deciding operator."""
    site = [[113.10, 23.00], [113.11, 23.00], [113.11, 23.01], [113.10, 23.01], [113.10, 23.00]]
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [site]},
         "properties": {"id": "site-1", "name": "site", "kind": "construction_site"}}]}
    at = {"location": {"lon": 113.105, "lat": 23.005}, **LEGAL}
    devices = [{"id": f"bg-{i}", "kind": "sensor", "name": f"bg {i}", **at} for i in range(n_bg)]
    devices += [{"id": f"trig-{i}", "kind": "sensor", "name": f"trigger {i}", **at} for i in range(n_trig)]
    apply_migrations(db)
    with psycopg.connect(db) as conn:
        upsert_zones(conn, load_zones(fc, kinds=zone_kinds(load_catalogue(Settings()))).zones)
        import_devices(conn, devices)
        _, fleet = create_token(conn, name="bench-fleet", role="operator")
        operators = [create_token(conn, name=f"bench-op-{i}", role="operator")[1] for i in range(n_operators)]
    return fleet, operators


# ------------------------------------------------------------------------------------------- 1. SSE latency

def sse_phase(cpu: CpuAccount, http: int, mqtt_port: int, pub: Publisher, token: str, first: int, n: int,
              clients: int, spacing: float, rate: float, bg: dict[str, Any], label: str) -> dict:
    """Time trigger devices first..first+WARMUP+n-1; the first WARMUP are not counted. `bg`: the background's
    devices and where its stream stands (seq, time), carried from one loaded run to the next."""
    fleet = FleetProcess(f"http://127.0.0.1:{http}", token, clients, mqtt_port).start()
    cpu.named[fleet.proc.pid] = "SSE clients"
    bg_thread = None
    if rate:
        background = PacedLoad(mqtt_port, bg["devices"], rate, RAMP_S + (WARMUP + n) * spacing + TAIL_S, bg["time"],
                               bg["seq"])
        bg["seq"], bg["time"] = background.next_seq, background.end_time
        bg_thread = threading.Thread(target=background.run)
        bg_thread.start()
        time.sleep(RAMP_S)
    stored0, t_load = metric(http, "enforcegw_readings_stored_total"), time.monotonic()
    sent: dict[str, float] = {}
    with cpu.measure(label):
        for k in tqdm(range(WARMUP + n), desc=label, unit="alert"):
            dev = f"trig-{first + k}"
            body = {"ts": (NIGHT + timedelta(seconds=30 + first + k)).isoformat(), "seq": 1,
                    "readings": {"LAmax": 85.0}}
            time.sleep(max(0.0, t_load + k * spacing - time.monotonic()))
            sent[dev] = time.monotonic()
            pub.publish(f"enf/sensor/{dev}/reading", body)
    load_s = time.monotonic() - t_load
    achieved = (metric(http, "enforcegw_readings_stored_total") - stored0) / load_s
    fleet.wait_new((WARMUP + n) * clients, timeout=30)
    data = fleet.finish()
    if bg_thread is not None:
        bg_thread.join()
    timed = list(sent)[WARMUP:]
    every = [(t - sent[d]) * 1000 for d in timed for t in data["sse"].get(d, [])]
    slowest = [(max(data["sse"][d]) - sent[d]) * 1000 for d in timed if len(data["sse"].get(d, [])) == clients]
    mqtt_ms = [(data["mqtt"][d] - sent[d]) * 1000 for d in timed if d in data["mqtt"]]
    # the stream's own share: each delivery after the same alert's MQTT message (both sinks run after the commit)
    behind = [(t - data["mqtt"][d]) * 1000 for d in timed if d in data["mqtt"] for t in data["sse"].get(d, [])]
    return {"label": label, "clients": clients, "alerts": n, "asked_rate": rate, "rate": achieved if rate else 0.0,
            "deliveries": len(every), "expected": n * clients, "complete": len(slowest),
            "p50": pct(every, 0.5), "p99": pct(every, 0.99), "max": max(every, default=float("nan")),
            "slowest_p50": pct(slowest, 0.5), "slowest_p99": pct(slowest, 0.99),
            "mqtt_p50": pct(mqtt_ms, 0.5), "mqtt_p99": pct(mqtt_ms, 0.99), "mqtt_n": len(mqtt_ms),
            "behind_p50": pct(behind, 0.5), "behind_p99": pct(behind, 0.99)}


# --------------------------------------------------------------------------------------- 2. GET /api/alerts

def queue_queries(db: str, requests: int) -> list[tuple[str, list[dict[str, str]]]]:
    """(name, the query string of each request): a request's parameters vary within its kind, so no one
    page is served from a warm cache every time."""
    with psycopg.connect(db) as conn:
        lo, hi = conn.execute("SELECT min(id), max(id) FROM alerts").fetchone()
        devices = [r[0] for r in conn.execute("SELECT DISTINCT device_id FROM alerts ORDER BY 1")]
        subjects = [r[0] for r in conn.execute("SELECT DISTINCT subject_code FROM alerts ORDER BY 1")]
    now = datetime.now(UTC)
    r = range(requests)

    def week(i: int) -> dict[str, str]:
        start = now - timedelta(days=7 + (i * 37) % 300)
        return {"from": start.isoformat(), "to": (start + timedelta(days=7)).isoformat()}

    def deep(i: int) -> str:
        return encode_cursor(lo + (hi - lo) * (1 + i % 9) // 10)

    return [
        ("first page", [{} for _ in r]),
        ("status=new", [{"status": "new"} for _ in r]),
        ("status=new, cursor (deep)", [{"status": "new", "cursor": deep(i)} for i in r]),
        ("device", [{"device": devices[i % len(devices)]} for i in r]),
        ("device, cursor (deep)", [{"device": devices[i % len(devices)], "cursor": deep(i)} for i in r]),
        ("subject + status=new", [{"subject": subjects[i % len(subjects)], "status": "new"} for i in r]),
        ("kind + from/to (a week)", [{"kind": "oil_fume", **week(i)} for i in r]),
        ("cursor (deep), no filter", [{"cursor": deep(i)} for i in r]),
    ]


async def http_times(base: str, token: str, params: list[dict[str, str]]) -> list[float]:
    out = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
        for p in params[:5]:  # warm-up: the connection and the first plans
            async with s.get(base + "/api/alerts", params=p) as resp:
                await resp.read()
        for p in params:
            t = time.perf_counter()
            async with s.get(base + "/api/alerts", params=p) as resp:
                await resp.read()
                if resp.status != 200:
                    raise SystemExit(f"GET /api/alerts {p}: {resp.status} {await resp.text()}")
            out.append((time.perf_counter() - t) * 1000)
    return out


def sql_times(db: str, params: list[dict[str, str]]) -> list[float]:
    out = []
    with psycopg.connect(db, autocommit=True) as conn, conn.cursor(row_factory=dict_row) as cur:
        for i, p in enumerate([*params[:5], *params]):
            sql, args, _ = list_query(p)
            t = time.perf_counter()
            cur.execute(sql, args).fetchall()
            if i >= 5:
                out.append((time.perf_counter() - t) * 1000)
    return out


def queue_phase(cpu: CpuAccount, db: str, http: int, token: str, n_alerts: int, requests: int,
                timed: bool = True) -> list[tuple[str, dict]]:
    """Fill the store; then, if `timed`, time the list (decisions need the filled store, not the timing)."""
    with psycopg.connect(db) as conn:
        devices = [r[0] for r in conn.execute("SELECT id FROM devices ORDER BY id")]
        idx = [r[0] for r in conn.execute("SELECT evidence_open_idx FROM alerts WHERE evidence_open_idx IS NOT NULL")]
    t = time.perf_counter()
    bulk_alerts(db, n_alerts, devices, evidence_idx=idx)
    console.print(f"{n_alerts:,} alerts COPYed and analysed in {time.perf_counter() - t:.1f} s")
    rows: list[tuple[str, dict]] = []
    if not timed:
        return rows
    with cpu.measure("GET /api/alerts and its SQL"):
        for name, params in tqdm(queue_queries(db, requests), desc="GET /api/alerts", unit="query"):
            api = asyncio.run(http_times(f"http://127.0.0.1:{http}", token, params))
            raw = sql_times(db, params)
            rows.append((name, {"p50": pct(api, 0.5), "p99": pct(api, 0.99), "raw_p50": pct(raw, 0.5),
                                "raw_p99": pct(raw, 0.99)}))
    return rows


# ------------------------------------------------------------------------------------------- 3. decisions

async def decisions(base: str, tokens: list[str], codes: list[str], seconds: float) -> dict:
    queue = iter(codes)
    lat: list[float] = []
    counts = {"pairs": 0, "errors": 0}
    deadline = time.monotonic() + seconds

    async def operator(token: str, n: int) -> None:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
            while time.monotonic() < deadline:
                code = next(queue, None)
                if code is None:
                    return
                n += 1
                steps = [("claim", None), ("confirm", {"note": "bench"}) if n % 2 else
                         ("dismiss", {"reason": "false_detection", "text": "bench"})]
                for step, body in steps:
                    t = time.perf_counter()
                    async with s.post(f"{base}/api/alerts/{code}/{step}", json=body) as resp:
                        await resp.read()
                    lat.append((time.perf_counter() - t) * 1000)
                    if resp.status != 200:
                        counts["errors"] += 1
                        break
                else:
                    counts["pairs"] += 1

    t = time.monotonic()
    await asyncio.gather(*(operator(tok, i) for i, tok in enumerate(tokens)))
    elapsed = time.monotonic() - t
    return {"pairs_s": counts["pairs"] / elapsed, "decisions_s": 2 * counts["pairs"] / elapsed,
            "errors": counts["errors"], "p50": pct(lat, 0.5), "p99": pct(lat, 0.99), "pairs": counts["pairs"]}


def decision_phase(cpu: CpuAccount, db: str, http: int, tokens: list[str], seconds: float) -> dict:
    with psycopg.connect(db) as conn:
        codes = [r[0] for r in conn.execute(
            "SELECT clue_code FROM alerts WHERE status = 'new' AND admissible AND category = 'violation'"
            " ORDER BY id DESC")]
    done = threading.Event()

    def tick() -> None:
        with tqdm(total=int(seconds), desc=f"decisions ({len(tokens)} operators)", unit="s") as bar:
            while not done.wait(1.0) and bar.n < bar.total:
                bar.update(1)

    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        with cpu.measure("decisions"):
            return asyncio.run(decisions(f"http://127.0.0.1:{http}", tokens, codes, seconds))
    finally:
        done.set()
        ticker.join()


def review_entry(i: int, refs: list[int]) -> Entry:
    """An entry the size and shape of a decision's (api/review.py)."""
    now = datetime.now(UTC)
    return Entry(entry_type="review", device_id="operator:bench-raw", capture_time=now, time_source="gateway",
                 refs=refs, payload={"clue_code": f"440605-20260101-{i:04d}", "alert_id": i, "decision": "confirm",
                                     "note": "bench", "status": "confirmed", "time": now.isoformat(),
                                     "reviewer": {"token_id": 1, "name": "bench-raw", "role": "operator"},
                                     "alert_evidence": [{"index": 0, "role": "open", "leaf_hash": "ab" * 32}]})


def raw_appends(cpu: CpuAccount, server: str, seconds: float) -> dict:
    """Evidence appends on a database of their own, with the sequencer integrating and signing alongside."""
    db = create_database(server, "enforcegw_bench")
    cpu.dbname = conninfo_to_dict(db)["dbname"]
    try:
        apply_migrations(db, allow_timescale=False)
        with tempfile.TemporaryDirectory() as tmp, \
                EvidenceLog.open(db, EvidenceConfig(origin="bench.enforcegw.example/console"), Path(tmp)) as log:
            stop = threading.Event()
            seq = threading.Thread(target=log.run_sequencer, args=(stop, 0.25))
            seq.start()
            log.append(review_entry(0, []))
            out = {}
            for name, batch in (("single", 1), ("batched", 256)):
                n, t = 0, time.perf_counter()
                with tqdm(desc=f"raw appends ({name})", unit="entry") as bar, \
                        cpu.measure(f"raw appends ({name})"):
                    while time.perf_counter() - t < seconds:
                        log.append_many([review_entry(n + k, [0]) for k in range(batch)])
                        n += batch
                        bar.update(batch)
                out[name] = n / (time.perf_counter() - t)
            stop.set()
            seq.join()
        return out
    finally:
        drop_database(server, db)


# ------------------------------------------------------------------------------------------------ running

PARTS = ("sse", "queue", "decisions")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a short run: fewer alerts, requests and seconds")
    ap.add_argument("--only", action="append", choices=PARTS, help="run only this part (repeatable; default all)")
    ap.add_argument("--clients", type=int, default=200, help="SSE clients under load")
    ap.add_argument("--rate", type=float, default=5000.0, help="background readings/s under load")
    ap.add_argument("--bg-devices", type=int, default=50, help="sensors sending the background load")
    ap.add_argument("--triggers", type=int, help="alerts timed with all clients under load (default 300, quick 60)")
    ap.add_argument("--raw-triggers", type=int, help="alerts timed in each other SSE run (default 100, quick 30)")
    ap.add_argument("--spacing", type=float, default=0.25, help="seconds between alert-opening readings")
    ap.add_argument("--alerts", type=int, help="alerts in the store for the list (default 100,000, quick 20,000)")
    ap.add_argument("--requests", type=int, help="requests per list query (default 300, quick 60)")
    ap.add_argument("--operators", type=int, default=8, help="concurrent deciding operators")
    ap.add_argument("--seconds", type=float, help="decision measurement time (default 15, quick 5)")
    ap.add_argument("--append-seconds", type=float, help="time of each raw append measurement (default 8, quick 3)")
    ap.add_argument("--receive-process", action="store_true",
                    help="the gateway receives MQTT in a child process (mqtt.receive_process)")
    ap.add_argument("--database-url", help="server to create the bench databases on (default: the test server)")
    args = ap.parse_args()
    quick, parts = args.quick, set(args.only or PARTS)
    triggers = args.triggers or (60 if quick else 300)
    raw_triggers = args.raw_triggers or (30 if quick else 100)
    n_alerts = args.alerts or (20_000 if quick else 100_000)
    requests = args.requests or (60 if quick else 300)
    seconds = args.seconds or (5.0 if quick else 15.0)
    append_seconds = args.append_seconds or (3.0 if quick else 8.0)
    n_trig = 4 * WARMUP + 3 * raw_triggers + triggers

    server, db = bench_database(args.database_url)
    fleet_token, operators = setup(db, args.bg_devices, n_trig, args.operators)
    cpu = CpuAccount(conninfo_to_dict(db)["dbname"])
    cpu.named[os.getpid()] = "bench (publisher, HTTP clients)"
    bg = {"devices": [f"bg-{i}" for i in range(args.bg_devices)], "seq": 0, "time": NIGHT}
    broker = mosquitto_process()
    out: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp, broker as mqtt_url:
            port = int(mqtt_url.rsplit(":", 1)[1])
            extra = {"mqtt": {"receive_process": True}} if args.receive_process else None
            gw, http = start_gateway(db, mqtt_url, Path(tmp), extra)
            cpu.named.update({gw.pid: "gateway + API", broker.proc.pid: "mosquitto"})
            if args.receive_process:
                cpu.named.update({c.pid: "gateway MQTT receive" for c in psutil.Process(gw.pid).children()})
            pub = Publisher(mqtt_url)
            try:
                # one quiet reading per trigger device first, so the timed one is not the device's first
                pub.publish_all([(f"enf/sensor/trig-{i}/reading", {"ts": NIGHT.isoformat(), "seq": 0,
                                                                   "readings": {"LAmax": 50.0}})
                                 for i in range(n_trig)])
                while metric(http, "enforcegw_readings_stored_total") < n_trig:
                    time.sleep(0.1)
                if "sse" in parts:
                    # (clients, background readings/s, alerts timed): the raw limit, each half of the load
                    # alone, then both, which is the figure the goal is about
                    runs = [(1, 0.0, raw_triggers), (args.clients, 0.0, raw_triggers),
                            (1, args.rate, raw_triggers), (args.clients, args.rate, triggers)]
                    out["sse"], first = [], 0
                    for clients, rate, n in runs:
                        label = f"{clients} client{'s' if clients > 1 else ''}, " + (
                            f"{rate:,.0f} readings/s" if rate else "no load")
                        out["sse"].append(sse_phase(cpu, http, port, pub, fleet_token, first, n, clients,
                                                    args.spacing, rate, bg, label))
                        first += WARMUP + n
                if parts & {"queue", "decisions"}:
                    out["queue"] = queue_phase(cpu, db, http, operators[0], n_alerts, requests, "queue" in parts)
                if "decisions" in parts:
                    out["decisions"] = decision_phase(cpu, db, http, operators, seconds)
            finally:
                pub.close()
                stop_gateway(gw)
        if "decisions" in parts:
            out["appends"] = raw_appends(cpu, server, append_seconds)
    finally:
        drop_database(server, db)
    if "sse" in parts:
        report_sse(out["sse"])
    if "queue" in parts:
        report_queue(out["queue"], n_alerts)
    if "decisions" in parts:
        report_decisions(out["decisions"], out["appends"], args.operators)
    report_cpu(cpu)


def report_sse(runs: list[dict]) -> None:
    raw, load = runs[0], runs[-1]
    t = Table("SSE clients, load asked", "readings/s achieved", "deliveries", "p50 ms", "p99 ms",
              "max ms", "slowest client p99 ms", "MQTT sink p50 / p99 ms", "SSE after MQTT p50 / p99 ms",
              "p99 / raw p99",
              title="1. live queue: publish of the opening reading -> its `new` event on GET /api/alerts/stream")
    for r in runs:
        t.add_row(r["label"], f"{r['rate']:,.0f}" if r["asked_rate"] else "-",
                  f"{r['deliveries']:,} of {r['expected']:,}", f"{r['p50']:.0f}", f"{r['p99']:.0f}",
                  f"{r['max']:.0f}", f"{r['slowest_p99']:.0f}", f"{r['mqtt_p50']:.0f} / {r['mqtt_p99']:.0f}",
                  f"{r['behind_p50']:.0f} / {r['behind_p99']:.0f}", f"{r['p99'] / raw['p99']:.2f}")
    console.print(t)
    met = load["p99"] <= 300 and load["deliveries"] == load["expected"]
    console.print(f"goal p99 <= 300 ms with {load['clients']} clients under load, every event delivered: "
                  f"{'met' if met else 'NOT met'}; alerts every client had: {load['complete']} of {load['alerts']}")


def report_queue(queue: list[tuple[str, dict]], n_alerts: int) -> None:
    t = Table("query", "API p50 ms", "API p99 ms", "SQL p50 ms", "SQL p99 ms", "API p99 / SQL p99",
              title=f"2. GET /api/alerts, {n_alerts:,} alerts in the store, 50 per page")
    for name, r in queue:
        t.add_row(name, f"{r['p50']:.1f}", f"{r['p99']:.1f}", f"{r['raw_p50']:.1f}", f"{r['raw_p99']:.1f}",
                  f"{r['p99'] / r['raw_p99']:.1f}")
    console.print(t)
    worst = max(r["p99"] for _, r in queue)
    console.print(f"goal p99 <= 50 ms on every query: {'met' if worst <= 50 else 'NOT met'} (worst {worst:.1f} ms)")


def report_decisions(decided: dict, appends: dict, operators: int) -> None:
    t = Table("measure", "per second", "decisions / this", title="3. review decisions, each with its evidence entry")
    t.add_row(f"API: claim + confirm/dismiss pairs, {operators} operators", f"{decided['pairs_s']:,.1f} pairs", "")
    t.add_row("API: decisions (claim, confirm or dismiss)", f"{decided['decisions_s']:,.1f}", "1.00")
    t.add_row("raw: evidence append, one entry per transaction", f"{appends['single']:,.0f}",
              f"{decided['decisions_s'] / appends['single']:.2f}")
    t.add_row("raw: evidence append, batched 256", f"{appends['batched']:,.0f}",
              f"{decided['decisions_s'] / appends['batched']:.3f}")
    console.print(t)
    console.print(f"decision latency p50 {decided['p50']:.0f} ms, p99 {decided['p99']:.0f} ms; "
                  f"{decided['pairs']:,} pairs, {decided['errors']} refused or failed")


def report_cpu(cpu: CpuAccount) -> None:
    print_cpu(console, cpu)


if __name__ == "__main__":
    main()
