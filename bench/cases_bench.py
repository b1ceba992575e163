"""Case-push benchmark: review decision -> task at the case system, throughput to a slow receiver, and the
recovery after an outage, each against a limit measured in the same run.

    python bench/cases_bench.py [--quick] [--only latency|throughput|recovery] [--rate 5000] [--database-url URL]

One gateway with the console API (`python -m api.main run`) against its own database and its own Mosquitto
(docker/mosquitto.conf), configured with four case systems, each an `enforcegw case-sink` process of its own
(testkit/case_sink_process.py) that answers with its case number (`ack_path: case_no`, so every delivery also
records the number as an evidence entry):
  1. Latency: the HTTP POST of the final review decision -> the sink holding the task (its receipt time). The
     alerts are opened by MQTT readings (GB 12523-2011 night LAmax) in two construction sites: one whose item
     needs a legal review (final decision: the supervisor's approval), one whose item needs none (final decision:
     the confirmation). Raw: without load; then under --rate readings/s of background MQTT ingest (the
     mosquitto_pub load of bench/rules_latency.py). Beside it, the gateway's own request time to the sink.
     Goal: p99 <= 1 s under load.
  2. Throughput to a sink answering in 200 ms (`--stall-s 0.2`): tasks/s delivered with the default
     `max_in_flight` (16), against the bound max_in_flight / 0.2 s; the concurrency the sink saw; and the same
     to an instant sink, the ceiling of the sender and receiver. Goal: >= 50 tasks/s.
  3. Recovery: --pending tasks made while the sink's port is closed; the worker fails on each, then the rows are
     set as a 10-minute outage's back-off would have left them (testkit/case_outage.py); the sink opens and the
     drain is timed, against --pending / the instant throughput of 2.
Tasks for 2 and 3 are written straight to the store (testkit/case_bulk.py), as decisions would make them.
Nothing is asserted: the figures and ratios are printed, goals marked met or not.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import psycopg
from cases_report import OUTAGE_S, STALL_S, console, report_cpu, report_latency, report_recovery, report_throughput
from psycopg.conninfo import conninfo_to_dict
from rules_latency import LEGAL, Background
from tqdm import tqdm

from gateway.cases.config import CaseSystem, RetryPolicy
from gateway.cases.outbox import task_id_for, webhook_id
from gateway.catalogue import load_catalogue, zone_kinds
from gateway.config import Settings
from gateway.devices import import_devices
from gateway.store.migrate import apply_migrations
from gateway.store.tokens import create_token
from gateway.store.zones import upsert_zones
from geo.geojson_io import load_zones
from testkit.bench_gateway import load_avg, pct, start_gateway, stop_gateway
from testkit.case_bulk import bulk_tasks
from testkit.case_outage import simulate_outage
from testkit.case_sink_process import SinkProcess
from testkit.case_tasks import SECRET
from testkit.cpu_share import CpuAccount
from testkit.databases import bench_database, drop_database
from testkit.gateway_harness import Publisher
from testkit.gateway_http import metric
from testkit.services import mosquitto_process

WARMUP = 10  # decisions per latency phase before timing: the first pay for cold caches and plans
RAMP_S = 10.0  # background load before the first timed decision, so the ingest has reached its steady state
# A night while GB 12523-2011 was in force: its night LAmax is per sample, so one reading opens an alert.
NIGHT = datetime(2025, 12, 30, 22, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
LEGAL_ITEM, DIRECT_ITEM = "C-NOISE-NIGHT", "C-NOISE-DAY"
ITEMS = {LEGAL_ITEM: {"name": "夜间施工噪声扰民", "legal_basis": "《中华人民共和国噪声污染防治法》第八十一条",
                      "legal_review": True},
         DIRECT_ITEM: {"name": "施工噪声超标排放", "legal_basis": "《中华人民共和国噪声污染防治法》第七十七条",
                       "legal_review": False}}
# the systems of parts 2 and 3 take the tasks of a district each, so no decision of part 1 reaches them
SUBJECTS = {"slow": ("440604", "禅城区综合行政执法局"), "instant": ("440606", "顺德区综合行政执法局"),
            "recover": ("440607", "三水区综合行政执法局")}


# -------------------------------------------------------------------------------------------------- setup

def _zone(zid: str, kind: str, lon: float, lat: float, d: float, **props: object) -> dict:
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"id": zid, "name": zid, "kind": kind, **props}}


SITES = {LEGAL_ITEM: (113.10, 23.00), DIRECT_ITEM: (113.12, 23.00)}  # one construction site per item


def setup(db: str, n_bg: int, n_trig: int) -> tuple[str, str]:
    """Nanhai's jurisdiction, the two sites, background sensors and trigger sensors (even: the legal-review
    site, odd: the other); an operator's and a supervisor's token."""
    fc = {"type": "FeatureCollection", "features": [
        _zone("440605", "jurisdiction", 113.0, 22.9, 0.3, priority=30,
              enforcement_subject={"code": "440605", "name": "南海区综合行政执法局"}),
        *(_zone(f"cs-{item}", "construction_site", lon, lat, 0.01, enforcement_items=[item])
          for item, (lon, lat) in SITES.items())]}
    loaded = load_zones(fc, kinds=zone_kinds(load_catalogue(Settings())))
    if loaded.problems:
        raise SystemExit(f"bench zones: {loaded.problems}")

    def at(item: str) -> dict:
        lon, lat = SITES[item]
        return {"location": {"lon": lon + 0.005, "lat": lat + 0.005}, **LEGAL}

    devices = [{"id": f"bg-{i}", "kind": "sensor", "name": f"bg {i}", **at(LEGAL_ITEM)} for i in range(n_bg)]
    devices += [{"id": f"trig-{i}", "kind": "sensor", "name": f"trigger {i}",
                 **at(LEGAL_ITEM if i % 2 == 0 else DIRECT_ITEM)} for i in range(n_trig)]
    apply_migrations(db)
    with psycopg.connect(db) as conn:
        upsert_zones(conn, loaded.zones)
        result = import_devices(conn, devices)
        if result.errors:
            raise SystemExit(f"bench devices: {result.errors}")
        operator = create_token(conn, name="bench-operator", role="operator")[1]
        supervisor = create_token(conn, name="bench-supervisor", role="supervisor")[1]
    return operator, supervisor


def gateway_config(sinks: dict[str, SinkProcess]) -> dict[str, Any]:
    return {"api": {"review": {"lease_s": 3600}}, "enforcement": {"items": ITEMS},
            "cases": {"systems": [system(name, sink) for name, sink in sinks.items()]}}


def system(name: str, sink: SinkProcess) -> dict[str, Any]:
    match = [{"items": list(ITEMS)}] if name == "live" else [{"subjects": [SUBJECTS[name][0]]}]
    return {"name": name, "url": sink.url + "/tasks", "secret": SECRET, "ack_path": "case_no", "match": match}


def vacuum(db: str) -> None:
    """What autovacuum would have done by now (a test server may run without it): dead row versions of earlier
    updates would otherwise slow the scans of the due index."""
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE alerts, case_tasks, case_deliveries, case_attempts")


def done_count(conn: psycopg.Connection, name: str) -> tuple[int, datetime | None, datetime | None]:
    """(deliveries to `name` delivered or acknowledged, the first and the last delivered_at)."""
    return conn.execute("SELECT count(*), min(delivered_at), max(delivered_at) FROM case_deliveries"
                        " WHERE system = %s AND state IN ('delivered', 'acknowledged')", (name,)).fetchone()


def wait_done(db: str, name: str, n: int, desc: str, timeout: float
              ) -> tuple[int, datetime | None, datetime | None]:
    """Until n deliveries to `name` are done (or `timeout`): how many, the first and the last delivered_at."""
    deadline = time.monotonic() + timeout
    with tqdm(total=n, desc=desc, unit="task") as bar, psycopg.connect(db, autocommit=True) as conn:
        while True:
            got, first, last = done_count(conn, name)
            bar.update(got - bar.n)
            if got >= n or time.monotonic() > deadline:
                return got, first, last
            time.sleep(0.1)


# ------------------------------------------------------------------------------------------------ 1. latency

@dataclass(frozen=True)
class Pending:
    code: str
    legal: bool  # the final decision is the supervisor's approval (else the operator's confirmation)


def open_alerts(db: str, http: int, pub: Publisher, n_trig: int) -> list[Pending]:
    pub.publish_all([(f"enf/sensor/trig-{i}/reading", {"ts": (NIGHT + timedelta(seconds=i % 600)).isoformat(),
                                                       "seq": 1, "readings": {"LAmax": 85.0}})
                     for i in range(n_trig)])
    deadline = time.monotonic() + 120
    with tqdm(total=n_trig, desc="alerts opened by MQTT", unit="alert") as bar, psycopg.connect(db) as conn:
        while bar.n < n_trig and time.monotonic() < deadline:
            time.sleep(0.2)
            bar.update(conn.execute("SELECT count(*) FROM alerts").fetchone()[0] - bar.n)
        rows = conn.execute("SELECT clue_code, enforcement_item FROM alerts WHERE device_id LIKE 'trig-%%'"
                            " ORDER BY id").fetchall()
    if len(rows) < n_trig:
        raise SystemExit(f"only {len(rows)} of {n_trig} alerts opened")
    return [Pending(code, item == LEGAL_ITEM) for code, item in rows]


async def _post(s: aiohttp.ClientSession, base: str, code: str, action: str, body: dict | None) -> None:
    async with s.post(f"{base}/api/alerts/{code}/{action}", json=body) as resp:
        if resp.status != 200:
            raise SystemExit(f"{action} {code}: {resp.status} {await resp.text()}")


async def prepare(base: str, operator: str, alerts: list[Pending]) -> None:
    """Every alert one decision short of a task: claimed; those needing a legal review also confirmed."""
    sem = asyncio.Semaphore(4)
    bar = tqdm(total=len(alerts), desc="claim (+ confirm) to one decision short", unit="alert")

    async def one(s: aiohttp.ClientSession, a: Pending) -> None:
        async with sem:
            await _post(s, base, a.code, "claim", None)
            if a.legal:
                await _post(s, base, a.code, "confirm", {"note": "bench"})
            bar.update(1)

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {operator}"}) as s:
        await asyncio.gather(*(one(s, a) for a in alerts))
    bar.close()


async def decide(base: str, operator: str, supervisor: str, alerts: list[Pending], spacing: float,
                 label: str) -> dict[str, tuple[float, float, bool]]:
    """The final decisions, one at a time, `spacing` apart: clue code -> (wall time of the POST, its answer
    time in ms, legal review)."""
    out = {}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {operator}"}) as op, \
            aiohttp.ClientSession(headers={"Authorization": f"Bearer {supervisor}"}) as sup:
        t0 = time.monotonic()
        for k, a in enumerate(tqdm(alerts, desc=label, unit="decision")):
            await asyncio.sleep(max(0.0, t0 + k * spacing - time.monotonic()))
            sent, t = time.time(), time.perf_counter()
            if a.legal:
                await _post(sup, base, a.code, "legal-review", {"decision": "approve", "reason": "bench"})
            else:
                await _post(op, base, a.code, "confirm", {"note": "bench"})
            out[a.code] = (sent, (time.perf_counter() - t) * 1000, a.legal)
    return out


def latency_phase(cpu: CpuAccount, db: str, http: int, mqtt_port: int, sink: SinkProcess, tokens: tuple[str, str],
                  alerts: list[Pending], spacing: float, rate: float, bg_devices: int, label: str) -> dict:
    bg_thread = background = None
    if rate:
        # room for decisions slower than their spacing; the load ends once the sink has every task
        background = Background(mqtt_port, bg_devices, rate, RAMP_S + 3 * len(alerts) * spacing + 30, NIGHT)
        bg_thread = threading.Thread(target=background.run)
        bg_thread.start()
        time.sleep(RAMP_S)
    stored0, t_load = metric(http, "enforcegw_readings_stored_total"), time.monotonic()
    with cpu.measure(label):
        posted = asyncio.run(decide(f"http://127.0.0.1:{http}", *tokens, alerts, spacing, label))
        load_s = time.monotonic() - t_load
        achieved = (metric(http, "enforcegw_readings_stored_total") - stored0) / load_s
        ids = {webhook_id(task_id_for(code), "live"): code for code in posted}
        deadline = time.monotonic() + 60
        while len(got := {i: t for i, t in sink.received().items() if i in ids}) < len(ids) \
                and time.monotonic() < deadline:
            time.sleep(0.2)
    if background is not None and bg_thread is not None:
        background.seconds = 0.0  # its pacing loop reads this every step
        bg_thread.join()
    with psycopg.connect(db) as conn:
        attempts = {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT d.webhook_id, a.started_at, a.latency_ms FROM case_deliveries d JOIN case_attempts a"
            " ON a.delivery_id = d.id AND a.n = 1 WHERE d.system = 'live'")}
    timed = list(posted)[WARMUP:]
    rows = {}
    for name, legal in (("legal review approve", True), ("confirm (no legal review)", False), ("both", None)):
        codes = [c for c in timed if legal is None or posted[c][2] is legal]
        wid = {c: webhook_id(task_id_for(c), "live") for c in codes}
        total = [(got[wid[c]].timestamp() - posted[c][0]) * 1000 for c in codes if wid[c] in got]
        answer = [posted[c][1] for c in codes]
        to_send = [(attempts[wid[c]][0].timestamp() - posted[c][0]) * 1000 for c in codes if wid[c] in attempts]
        request = [attempts[wid[c]][1] for c in codes if wid[c] in attempts and attempts[wid[c]][1] is not None]
        rows[name] = {"n": len(codes), "received": len(total), "p50": pct(total, 0.5), "p99": pct(total, 0.99),
                      "max": max(total, default=float("nan")), "answer_p50": pct(answer, 0.5),
                      "answer_p99": pct(answer, 0.99), "send_p50": pct(to_send, 0.5), "send_p99": pct(to_send, 0.99),
                      "request_p50": pct(request, 0.5), "request_p99": pct(request, 0.99)}
    return {"label": label, "asked_rate": rate, "rate": achieved if rate else 0.0, "rows": rows}


# --------------------------------------------------------------------------------------------- 2. throughput

def requests_in_flight(db: str, name: str) -> tuple[float, int]:
    """(mean, most) requests to `name` in flight at once while any was, as the sender's attempts record them (a
    sink answering at once handles one at a time, whatever the sender has open)."""
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT extract(epoch FROM a.started_at), a.latency_ms FROM case_attempts a JOIN"
                            " case_deliveries d ON d.id = a.delivery_id WHERE d.system = %s AND a.latency_ms"
                            " IS NOT NULL", (name,)).fetchall()
    edges = sorted([(float(t), 1) for t, _ in rows] + [(float(t) + ms / 1000, -1) for t, ms in rows])
    now = most = 0
    busy = area = 0.0
    for (t, step), (t_next, _) in zip(edges, [*edges[1:], edges[-1]], strict=True):
        now += step
        most = max(most, now)
        if now:
            busy += t_next - t
            area += now * (t_next - t)
    return (area / busy if busy else 0.0), most


def throughput_phase(cpu: CpuAccount, db: str, sink: SinkProcess, name: str, n: int, label: str) -> dict:
    sys_cfg = CaseSystem.model_validate({"name": name, "url": sink.url, "secret": SECRET})
    vacuum(db)
    with sink, cpu.measure(label):
        bulk_tasks(db, n, sys_cfg, prefix=f"{SUBJECTS[name][0]}-20261202-{name[0].upper()}",
                   subject=SUBJECTS[name])
        t0 = datetime.now(UTC)
        got, first, last = wait_done(db, name, n, label, timeout=max(120.0, n / 20))
        seen = sink.health()
    elapsed = (last - t0).total_seconds() if last else float("nan")
    mean, most = requests_in_flight(db, name)
    return {"label": label, "n": n, "done": got, "elapsed": elapsed, "rate": got / elapsed,
            "first_s": (first - t0).total_seconds() if first else float("nan"),
            "sink_max_in_flight": seen["max_in_flight"], "duplicates": seen.get("duplicate", 0),
            "max_in_flight": sys_cfg.max_in_flight, "sent_mean": mean, "sent_most": most}


# ----------------------------------------------------------------------------------------------- 3. recovery

def recovery_phase(cpu: CpuAccount, db: str, sink: SinkProcess, n: int) -> dict:
    name = "recover"
    sys_cfg = CaseSystem.model_validate({"name": name, "url": sink.url, "secret": SECRET})
    vacuum(db)
    with cpu.measure("recovery: failing while down"):
        t = time.monotonic()
        bulk_tasks(db, n, sys_cfg, prefix=f"{SUBJECTS[name][0]}-20261202-R", subject=SUBJECTS[name])
        made_s = time.monotonic() - t
        t = time.monotonic()
        with tqdm(total=n, desc="recovery: worker fails on each (port closed)", unit="task") as bar, \
                psycopg.connect(db, autocommit=True) as conn:
            while bar.n < n:
                time.sleep(0.2)
                bar.update(conn.execute("SELECT count(*) FROM case_deliveries WHERE system = %s AND attempts >= 1",
                                        (name,)).fetchone()[0] - bar.n)
            failed_s = time.monotonic() - t
            attempts_made = conn.execute("SELECT count(*) FROM case_attempts a JOIN case_deliveries d"
                                         " ON d.id = a.delivery_id WHERE d.system = %s", (name,)).fetchone()[0]
    outage = simulate_outage(db, name, RetryPolicy(), OUTAGE_S)
    vacuum(db)  # ten minutes of an outage give autovacuum its turn
    with sink, cpu.measure("recovery: drain"):
        assert sink.opened_at is not None
        opened = datetime.fromtimestamp(sink.opened_at, UTC)
        got, first, last = wait_done(db, name, n, "recovery: drain after the sink opens",
                                     timeout=max(300.0, n / 10))
        seen = sink.health()
    with psycopg.connect(db) as conn:
        failed = conn.execute("SELECT count(*) FROM case_deliveries WHERE system = %s AND state = 'push_failed'",
                              (name,)).fetchone()[0]
    mean, most = requests_in_flight(db, name)
    return {"n": n, "done": got, "sent_mean": mean, "sent_most": most, "made_s": made_s, "failed_s": failed_s,
            "attempts_while_down": attempts_made,
            "outage": outage, "drain_s": (last - opened).total_seconds() if last else float("nan"),
            "first_s": (first - opened).total_seconds() if first else float("nan"), "push_failed": failed,
            "sink_max_in_flight": seen["max_in_flight"], "duplicates": seen.get("duplicate", 0)}


# ------------------------------------------------------------------------------------------------ running

PARTS = ("latency", "throughput", "recovery")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a short run: fewer decisions and tasks")
    ap.add_argument("--only", action="append", choices=PARTS, help="run only this part (repeatable; default all)")
    ap.add_argument("--rate", type=float, default=5000.0, help="background readings/s under load")
    ap.add_argument("--bg-devices", type=int, default=50, help="sensors sending the background load")
    ap.add_argument("--decisions", type=int, help="final decisions timed under load (default 400, quick 80)")
    ap.add_argument("--raw-decisions", type=int, help="final decisions timed without load (default 100, quick 40)")
    ap.add_argument("--spacing", type=float, default=0.1, help="seconds between final decisions")
    ap.add_argument("--slow-tasks", type=int, help="tasks to the 200 ms sink (default 2,000, quick 400)")
    ap.add_argument("--instant-tasks", type=int, help="tasks to the instant sink (default 3,000, quick 1,000)")
    ap.add_argument("--pending", type=int, help="deliveries pending after the outage (default 10,000, quick 2,000)")
    ap.add_argument("--database-url", help="server to create the bench database on (default: the test server)")
    args = ap.parse_args()
    quick, parts = args.quick, set(args.only or PARTS)
    decisions = args.decisions or (80 if quick else 400)
    raw_decisions = args.raw_decisions or (40 if quick else 100)
    slow_n = args.slow_tasks or (400 if quick else 2000)
    instant_n = args.instant_tasks or (1000 if quick else 3000)
    pending = args.pending or (2000 if quick else 10_000)
    n_trig = 2 * WARMUP + raw_decisions + decisions if "latency" in parts else 0

    console.print(f"load average at start (1/5/15 min): {load_avg()} on {os.cpu_count()} cores")
    server, db = bench_database(args.database_url)
    tokens = setup(db, args.bg_devices, n_trig)
    cpu = CpuAccount(conninfo_to_dict(db)["dbname"], cmdline_groups={"case-sink": "case-sink"})
    cpu.named[os.getpid()] = "bench (HTTP client)"
    out: dict[str, Any] = {}
    broker = mosquitto_process()
    try:
        with tempfile.TemporaryDirectory() as tmp, broker as mqtt_url:
            sinks = {name: SinkProcess(SECRET, Path(tmp) / f"{name}.jsonl", stall_s=STALL_S if name == "slow" else 0)
                     for name in ("live", "slow", "instant", "recover")}
            gw, http = start_gateway(db, mqtt_url, Path(tmp), gateway_config(sinks))
            cpu.named.update({gw.pid: "gateway + API", broker.proc.pid: "mosquitto"})
            pub = Publisher(mqtt_url)
            try:
                if "latency" in parts:
                    alerts = open_alerts(db, http, pub, n_trig)
                    with sinks["live"] as live:
                        asyncio.run(prepare(f"http://127.0.0.1:{http}", tokens[0], alerts))
                        cut = WARMUP + raw_decisions
                        port = int(mqtt_url.rsplit(":", 1)[1])
                        out["latency"] = [
                            latency_phase(cpu, db, http, port, live, tokens, alerts[:cut], args.spacing, 0.0, 0,
                                          "latency, no load"),
                            latency_phase(cpu, db, http, port, live, tokens, alerts[cut:], args.spacing, args.rate,
                                          args.bg_devices, f"latency, {args.rate:,.0f} readings/s")]
                    console.print(f"load average after part 1: {load_avg()}")
                if parts & {"throughput", "recovery"}:
                    out["throughput"] = [
                        throughput_phase(cpu, db, sinks["slow"], "slow", slow_n, f"{STALL_S * 1000:.0f} ms sink"),
                        throughput_phase(cpu, db, sinks["instant"], "instant", instant_n, "instant sink")]
                    console.print(f"load average after part 2: {load_avg()}")
                if "recovery" in parts:
                    out["recovery"] = recovery_phase(cpu, db, sinks["recover"], pending)
                    console.print(f"load average after part 3: {load_avg()}")
            finally:
                pub.close()
                for s in sinks.values():
                    s.stop()
                stop_gateway(gw)
    finally:
        drop_database(server, db)
    if "latency" in out:
        report_latency(*out["latency"])
    if "throughput" in out:
        report_throughput(*out["throughput"])
    if "recovery" in out:
        report_recovery(out["recovery"], out["throughput"][1])
    report_cpu(cpu)


if __name__ == "__main__":
    main()
