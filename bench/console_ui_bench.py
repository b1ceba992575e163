"""Console UI benchmark in headless Chromium: time to first render of the queue and of an alert detail with
--alerts alerts in the store and --rate new alerts a second arriving, and the page's memory over an hour of
live events simulated in --seconds; each against a raw limit measured in the same run.

    python bench/console_ui_bench.py [--quick] [--alerts 10000] [--rate 5] [--events 18000] [--seconds 120]
                                     [--reps 10] [--sample-s 5] [--database-url URL]

One gateway with the console API (`python -m api.main run`, real HTTP on a free port) against its own database
and its own Mosquitto; --alerts ended alerts COPYed in (testkit/alert_bulk.py); new alerts written the way the
alert service writes them, row and `alert_changes` change in one transaction (testkit/live_alerts.py), so
they reach the page through the gateway's change stream. Debian's Chromium (/usr/bin/chromium), headless:
  1. Queue: navigation to the first frame showing rows, in a new browser context each time (cold cache, as a
     shift's first sign-in) and on a reload (warm cache). Raw limits: a blank page's navigation (data: URL), and
     the API calls the first rows wait for, fetched from the page (me, settings and messages side by side, then
     the first page of alerts). Goal: <= 1 s.
  2. Detail: a click on a newly arrived alert (chart readings, zone, device, two evidence entries with proofs)
     to the first frame with its header, then with its chart and map drawn; the first detail of a page (zones
     and boundaries not yet fetched) apart from the next ones. Raw limit: the same calls from the page for an
     alert like it (the alert, then zones and boundaries side by side). Goal: <= 1 s.
  3. Memory: one signed-in page with the queue and a detail open while --events changes arrive in --seconds
     (an hour at --rate a second), sampled every --sample-s after a forced garbage collection (CDP
     HeapProfiler.collectGarbage, then Performance.getMetrics): JS heap used, DOM nodes, listeners, rows; the
     slope over the whole run and over its second half (after the row cap has filled), the page's script time,
     and how far behind the newest alert the top row was. Goal: flat.
Nothing is asserted: the figures and ratios are printed, goals marked met or not. The load average at the start
and the end, and where the CPU went during part 3, say how busy the machine was.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from rich.console import Console
from rich.table import Table

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
from testkit.bench_gateway import start_gateway, stop_gateway
from testkit.cpu_share import shares, snapshot
from testkit.databases import bench_database, drop_database
from testkit.live_alerts import LiveAlerts, live_number
from testkit.read_api import add_alert
from testkit.services import mosquitto_process

console = Console(width=130)
CHROMIUM = "/usr/bin/chromium"
GOAL_MS = 1000.0
SITE = (113.10, 23.00)  # south-west corner of the construction site the devices stand in
DETAIL_DEVICE = "site-noise"
BUNDLES = ("console", "detail", "verify", "public")
WAIT_MS = 60_000

# The first frame at which `cond` holds, from the time origin of the page (navigation start).
FIRST_ROWS = """() => { window.__bench = {}; const look = () => {
  if (document.querySelector('#rows li.row')) { window.__bench.rows = performance.now(); return; }
  requestAnimationFrame(look); }; requestAnimationFrame(look); }"""

# Click the row of `code`; the frames at which its header, then its chart and map, are shown (ms after the click).
OPEN_DETAIL = """(code) => new Promise((resolve) => {
  const row = document.querySelector(`#rows li.row[data-code="${code}"]`);
  const t0 = performance.now();
  const out = {};
  const look = () => {
    const d = document.querySelector(`#detail .dt[data-code="${code}"]`);
    if (d && out.header === undefined) out.header = performance.now() - t0;
    if (d && d.querySelector('.dt-chart canvas') && d.querySelector('.dt-map .leaflet-interactive')) {
      out.drawn = performance.now() - t0;
      resolve(out);
      return;
    }
    if (performance.now() - t0 > 30000) { resolve(out); return; }
    requestAnimationFrame(look);
  };
  row.click();
  requestAnimationFrame(look);
})"""

RAW_QUEUE = """async ([token, bundles]) => {
  const auth = { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' };
  const json = (p, o = { cache: 'no-store' }) => fetch(p, o).then((r) => r.json());
  const t0 = performance.now();
  await Promise.all([json('/api/me', auth), json('/api/console/config'),
    ...bundles.map((b) => json(`/web/i18n/zh/${b}.json`))]);
  const t1 = performance.now();
  await json('/api/alerts?limit=50', auth);
  const t2 = performance.now();
  return { boot: t1 - t0, page: t2 - t1, total: t2 - t0 };
}"""

RAW_DETAIL = """async ([token, code]) => {
  const auth = { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' };
  const json = (p, o = auth) => fetch(p, o).then((r) => r.json());
  const t0 = performance.now();
  await json(`/api/alerts/${encodeURIComponent(code)}`);
  const t1 = performance.now();
  await Promise.all([json('/api/zones?kind=construction_site'), json('/api/public/boundaries', { cache: 'no-store' })]);
  const t2 = performance.now();
  return { alert: t1 - t0, total: t2 - t0 };
}"""

PAGE_FACTS = """() => { const top = document.querySelector('#rows li.row');
  return { dom: document.getElementsByTagName('*').length, rows: document.querySelectorAll('#rows li.row').length,
           top: top ? top.dataset.code : null }; }"""


# ------------------------------------------------------------------------------------------------ the store

def setup(db: str, n_devices: int) -> tuple[str, list[tuple[str, float, float]]]:
    """A jurisdiction (the offline map's base) with a construction site, sensors in it with their legal record,
    and an operator's token."""
    def square(lon: float, lat: float, d: float) -> list[list[float]]:
        return [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]

    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [square(113.0, 22.9, 0.3)]},
         "properties": {"id": "440605", "name": "南海区", "kind": "jurisdiction", "priority": 30,
                        "enforcement_subject": {"code": "440605", "name": "南海区综合行政执法局"}}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [square(*SITE, 0.01)]},
         "properties": {"id": "site-1", "name": "某工地", "kind": "construction_site"}}]}
    at = [(f"sensor-{i}", SITE[0] + 0.001 + 0.008 * i / n_devices, SITE[1] + 0.005) for i in range(n_devices)]
    at.append((DETAIL_DEVICE, SITE[0] + 0.005, SITE[1] + 0.005))
    apply_migrations(db)
    with psycopg.connect(db) as conn:
        upsert_zones(conn, load_zones(fc, kinds=zone_kinds(load_catalogue(Settings()))).zones)
        result = import_devices(conn, [{"id": d, "kind": "sensor", "name": f"噪声监测 {d}",
                                        "location": {"lon": lon, "lat": lat}, **LEGAL} for d, lon, lat in at])
        assert not result.errors, result.errors
        _, token = create_token(conn, name="bench-operator", role="operator")
    return token, at[:-1]


def detail_evidence(db: str, data_dir: Path, n: int) -> list[tuple[int, int]]:
    """Opening and ending evidence entries for n detail alerts, signed under a checkpoint with the key the
    gateway will use (data_dir/keys), so each detail carries two entries with their inclusion proofs."""
    with EvidenceLog.open(db, EvidenceConfig(), data_dir) as log:
        appended = log.append_many([Entry(entry_type="evidence", device_id=DETAIL_DEVICE,
                                          capture_time=datetime.now(UTC), payload={"detail_alert": i, "role": r})
                                    for i in range(n) for r in ("open", "end")])
        log.checkpoint()
    idx = [a.index for a in appended]
    return list(zip(idx[::2], idx[1::2], strict=True))


def detail_alert(db: str, k: int, evidence: tuple[int, int]) -> str:
    """An ended night-noise alert at the detail device with its window's readings (one every 5 s from 30 minutes
    before its start to its end, over the limit during it), written as it arrives: row and `new` change."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2 + k)
    end = start + timedelta(minutes=25)
    code = f"440605-DETAIL-{k:04d}"
    readings = []
    t = start - timedelta(minutes=30)
    while t <= end:
        readings.append((t, DETAIL_DEVICE, "LAeq", 66.0 if t >= start else 48.0 + (t.second % 7)))
        t += timedelta(seconds=5)
    with psycopg.connect(db) as conn:
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO readings (time, device_id, metric, value) VALUES (%s, %s, %s, %s)",
                            readings)
        conn.commit()
        add_alert(conn, code, DETAIL_DEVICE, start, end_time=end, zone_id="site-1", lon=SITE[0] + 0.005,
                  lat=SITE[1] + 0.005, evidence_open_idx=evidence[0], evidence_end_idx=evidence[1])
    return code


# ------------------------------------------------------------------------------------------------ the page

@dataclass
class Run:
    base: str
    token: str
    live: LiveAlerts
    browser: Any
    out: dict[str, Any] = field(default_factory=dict)

    def context(self) -> Any:
        """A new browser context (its own cache and storage) signed in: the token as the console keeps it."""
        ctx = self.browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        ctx.add_init_script(f"sessionStorage.setItem('enforcegw.token', {self.token!r});")
        return ctx


def wait_rows(page: Any) -> None:
    page.wait_for_selector("#rows li.row", timeout=WAIT_MS)


def queue_part(run: Run, reps: int) -> None:
    blank, raw, cold, warm, dcl = [], [], [], [], []
    for _ in range(reps):
        ctx = run.browser.new_context(viewport={"width": 1366, "height": 768})
        page = ctx.new_page()
        page.goto("data:text/html,<!doctype html><title>blank</title><p>blank")
        blank.append(page.evaluate("() => performance.getEntriesByType('navigation')[0]?.duration"
                                   " ?? performance.now()"))
        page.goto(run.base + "/web/i18n/zh/console.json")
        raw.append(page.evaluate(RAW_QUEUE, [run.token, list(BUNDLES)]))
        ctx.close()

        ctx = run.context()
        ctx.add_init_script(f"({FIRST_ROWS})()")
        page = ctx.new_page()
        page.goto(run.base + "/")
        page.wait_for_function("() => window.__bench && window.__bench.rows", timeout=WAIT_MS)
        cold.append(page.evaluate("() => window.__bench.rows"))
        dcl.append(page.evaluate("() => performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"))
        page.reload()
        page.wait_for_function("() => window.__bench && window.__bench.rows", timeout=WAIT_MS)
        warm.append(page.evaluate("() => window.__bench.rows"))
        ctx.close()
    run.out["queue"] = {"blank": blank, "raw": [r["total"] for r in raw], "raw_boot": [r["boot"] for r in raw],
                        "raw_page": [r["page"] for r in raw], "cold": cold, "warm": warm, "dcl": dcl}


def detail_part(run: Run, db: str, reps: int, evidence: list[tuple[int, int]]) -> None:
    ctx = run.context()
    page = ctx.new_page()
    page.goto(run.base + "/")
    wait_rows(page)
    first, later, raw = [], [], []
    for k in range(reps):
        # from the console's own page: a second page would hide it, and a hidden page draws no frames
        raw_code = detail_alert(db, 2 * k, evidence[2 * k])
        raw.append(page.evaluate(RAW_DETAIL, [run.token, raw_code]))
        code = detail_alert(db, 2 * k + 1, evidence[2 * k + 1])
        page.wait_for_selector(f'#rows li.row[data-code="{code}"]', timeout=WAIT_MS)  # arrived live
        got = page.evaluate(OPEN_DETAIL, code)
        if "drawn" not in got:
            raise SystemExit(f"the detail of {code} was not drawn within 30 s: {got}")
        (first if k == 0 else later).append(got)
    ctx.close()
    run.out["detail"] = {"first": first, "later": later, "raw": [r["total"] for r in raw],
                         "raw_alert": [r["alert"] for r in raw]}


def metrics(cdp: Any) -> dict[str, float]:
    for _ in range(2):  # a second pass takes what the first one's finalizers released
        cdp.send("HeapProfiler.collectGarbage")
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def sample(cdp: Any, page: Any, run: Run, t0: float, written0: int) -> dict[str, Any]:
    t = time.monotonic() - t0
    written, opened = run.live.written - written0, run.live.opened
    facts = page.evaluate(PAGE_FACTS)
    m = metrics(cdp)
    top = live_number(facts["top"] or "")
    return {"t": t, "heap": m["JSHeapUsedSize"], "heap_total": m["JSHeapTotalSize"],
            "nodes": m["Nodes"], "listeners": m["JSEventListeners"], "dom": facts["dom"], "rows": facts["rows"],
            "script": m["ScriptDuration"], "written": written, "behind": None if top is None else opened - top}


def memory_part(run: Run, events: int, seconds: float, every: float, rate: float, gateway_pid: int,
                dbname: str) -> None:
    ctx = run.context()
    page = ctx.new_page()
    page.goto(run.base + "/")
    wait_rows(page)
    page.locator("#rows li.row").first.click()
    page.wait_for_selector("#detail .dt[data-code]", timeout=WAIT_MS)
    cdp = ctx.new_cdp_session(page)
    cdp.send("Performance.enable")
    t0 = time.monotonic()
    written0 = run.live.written
    samples = [sample(cdp, page, run, t0, written0)]

    def classify(pid: int, comm: str, cmdline: str) -> str:
        if pid == gateway_pid:
            return "gateway + API"
        if pid == os.getpid():
            return "bench (writer, CDP)"
        if "chrom" in comm:
            return "chromium"
        if comm == "postgres" or cmdline.startswith("postgres"):
            return "postgres, bench db" if dbname in cmdline else "postgres, others + shared"
        return "other processes"

    before = snapshot(classify)
    burst: dict[str, float] = {"written": run.live.written}

    def end_burst() -> None:
        run.live.rate = rate
        burst["written"] = run.live.written - burst["written"]
        burst["s"] = time.monotonic() - start

    # the burst ends on time even when a sample (two collections under load) takes longer than planned
    back = threading.Timer(seconds, end_burst)
    run.live.rate = events / seconds
    start = time.monotonic()
    back.start()
    for k in range(1, int(seconds / every) + 1):
        time.sleep(max(0.0, start + k * every - time.monotonic()))
        samples.append(sample(cdp, page, run, t0, written0))
    back.join()
    busy, by_group = shares(before, snapshot(classify))
    written = int(burst["written"])
    achieved = written / burst["s"]
    newest = run.live.opened
    caught = None
    t_end = time.monotonic()
    while time.monotonic() - t_end < 60:
        top = live_number(page.evaluate(PAGE_FACTS)["top"] or "")
        if top is not None and top >= newest:
            caught = time.monotonic() - t_end
            break
        time.sleep(0.1)
    samples.append(sample(cdp, page, run, t0, written0))
    ctx.close()
    run.out["memory"] = {"samples": samples, "written": written, "achieved": achieved, "caught_up_s": caught,
                         "busy": busy, "by_group": by_group, "seconds": seconds}


# ------------------------------------------------------------------------------------------------ running

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a short run: fewer repetitions, a 30 s memory part")
    ap.add_argument("--alerts", type=int, default=10_000, help="alerts in the store")
    ap.add_argument("--rate", type=float, default=5.0, help="new alerts a second arriving while timing renders")
    ap.add_argument("--events", type=int, help="changes in the memory part (default 18,000: an hour at 5/s; "
                    "quick 4,500)")
    ap.add_argument("--seconds", type=float, help="length of the memory part (default 120, quick 30)")
    ap.add_argument("--end-share", type=float, default=0.0,
                    help="share of the changes that end an alert opened earlier instead of opening one")
    ap.add_argument("--reps", type=int, help="renders timed per measurement (default 10, quick 3)")
    ap.add_argument("--sample-s", type=float, help="seconds between memory samples (default 5, quick 3)")
    ap.add_argument("--devices", type=int, default=20, help="sensors the alerts are spread over")
    ap.add_argument("--database-url", help="server to create the bench database on (default: the test server)")
    args = ap.parse_args()
    quick = args.quick
    reps = args.reps or (3 if quick else 10)
    seconds = args.seconds or (30.0 if quick else 120.0)
    events = args.events or (4_500 if quick else 18_000)
    every = args.sample_s or (3.0 if quick else 5.0)
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    load_start = os.getloadavg()
    server, db = bench_database(args.database_url)
    dbname = conninfo_to_dict(db)["dbname"]
    out: dict[str, Any] = {}
    try:
        token, devices = setup(db, args.devices)
        t = time.perf_counter()
        bulk_alerts(db, args.alerts, [d for d, _, _ in devices])
        console.print(f"{args.alerts:,} alerts COPYed and analysed in {time.perf_counter() - t:.1f} s")
        with tempfile.TemporaryDirectory() as tmp, mosquitto_process() as mqtt_url:
            evidence = detail_evidence(db, Path(tmp) / "data", 2 * reps)  # the gateway's data_dir
            gw, http = start_gateway(db, mqtt_url, Path(tmp))
            live = LiveAlerts(db, devices, zone_id="site-1", rate=args.rate, end_share=args.end_share).start()
            try:
                with sync_playwright() as p:
                    browser = p.chromium.launch(executable_path=CHROMIUM)
                    run = Run(f"http://127.0.0.1:{http}", token, live, browser)
                    console.print(f"arriving: {args.rate:g} new alerts/s; timing the queue ({reps} renders)")
                    queue_part(run, reps)
                    console.print(f"timing the detail ({reps} renders)")
                    detail_part(run, db, reps, evidence)
                    console.print(f"memory: {events:,} changes in {seconds:g} s, sampled every {every:g} s")
                    memory_part(run, events, seconds, every, args.rate, gw.pid, dbname)
                    browser.close()
                    out = run.out
            finally:
                try:
                    live.stop()
                finally:
                    stop_gateway(gw)
    finally:
        drop_database(server, db)
    report(out, args, reps, events, load_start, os.getloadavg())


# ------------------------------------------------------------------------------------------------ report

def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x (per unit of x); nan for fewer than two points."""
    if len(points) < 2:
        return float("nan")
    mx = statistics.fmean(x for x, _ in points)
    my = statistics.fmean(y for _, y in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else float("nan")


def report(out: dict[str, Any], args: argparse.Namespace, reps: int, events: int,
           load_start: tuple[float, ...], load_end: tuple[float, ...]) -> None:
    q, d, m = out["queue"], out["detail"], out["memory"]
    t = Table("measure", "median ms", "max ms", "median / raw API", "median / blank page",
              title=f"1. queue first render: {args.alerts:,} alerts in the store, {args.rate:g} new/s arriving,"
              f" {reps} renders")
    raw, blank = med(q["raw"]), med(q["blank"])
    rows = [("raw: blank page (data: URL), navigation to load", q["blank"]),
            ("raw: API calls from the page (me + settings + messages, then first page)", q["raw"]),
            ("   of which me + settings + messages side by side", q["raw_boot"]),
            ("   of which GET /api/alerts?limit=50", q["raw_page"]),
            ("console, new context: DOMContentLoaded (page and modules)", q["dcl"]),
            ("console, new context (cold cache): first frame with rows", q["cold"]),
            ("console, reload (warm cache): first frame with rows", q["warm"])]
    for name, xs in rows:
        t.add_row(name, f"{med(xs):.0f}", f"{max(xs):.0f}", f"{med(xs) / raw:.2f}", f"{med(xs) / blank:.1f}")
    console.print(t)
    worst = max(q["cold"] + q["warm"])
    console.print(f"goal <= {GOAL_MS:.0f} ms: {'met' if worst <= GOAL_MS else 'NOT met'} (slowest {worst:.0f} ms)")

    t = Table("measure", "median ms", "max ms", "median / raw API",
              title=f"2. alert detail first render: click -> frame, {reps} alerts arriving live")
    raw = med(d["raw"])
    later = d["later"] or d["first"]
    rows = [("raw: API calls from the page (alert, then zones + boundaries)", d["raw"]),
            ("   of which GET /api/alerts/{code}", d["raw_alert"]),
            ("first detail of the page: header shown", [x["header"] for x in d["first"]]),
            ("first detail of the page: chart and map drawn", [x["drawn"] for x in d["first"]]),
            ("later details: header shown", [x["header"] for x in later]),
            ("later details: chart and map drawn", [x["drawn"] for x in later])]
    for name, xs in rows:
        t.add_row(name, f"{med(xs):.0f}", f"{max(xs):.0f}", f"{med(xs) / raw:.2f}")
    console.print(t)
    worst = max(x["drawn"] for x in d["first"] + d["later"])
    console.print(f"goal <= {GOAL_MS:.0f} ms: {'met' if worst <= GOAL_MS else 'NOT met'} (slowest {worst:.0f} ms)")

    s = m["samples"]
    t = Table("t s", "changes written", "JS heap used MB", "JS heap total MB", "DOM nodes (CDP)", "elements",
              "rows", "listeners", "top row behind newest", "script s",
              title=f"3. memory: {m['written']:,} changes in {m['seconds']:g} s (asked {events:,}; "
              f"{m['achieved']:.0f}/s), after a forced GC each")
    for x in s:
        t.add_row(f"{x['t']:.0f}", f"{x['written']:,}", f"{x['heap'] / 2**20:.2f}", f"{x['heap_total'] / 2**20:.1f}",
                  f"{x['nodes']:,.0f}", f"{x['dom']:,}", str(x["rows"]), f"{x['listeners']:,.0f}",
                  "—" if x["behind"] is None else f"{x['behind']:,}", f"{x['script']:.1f}")
    console.print(t)
    run_s = s[1:-1] or s
    half = [x for x in run_s if x["t"] >= run_s[0]["t"] + (run_s[-1]["t"] - run_s[0]["t"]) / 2]
    mb_min = {k: slope([(x["t"] / 60, x["heap"] / 2**20) for x in xs]) for k, xs in (("all", s), ("half", half))}
    nodes_min = {k: slope([(x["t"] / 60, x["nodes"]) for x in xs]) for k, xs in (("all", s), ("half", half))}
    script = (s[-1]["script"] - s[0]["script"]) / max(1e-9, s[-1]["t"] - s[0]["t"])
    console.print(f"heap: {s[0]['heap'] / 2**20:.2f} MB at the start, {s[-1]['heap'] / 2**20:.2f} MB at the end "
                  f"(x{s[-1]['heap'] / s[0]['heap']:.2f}); slope {mb_min['all']:+.3f} MB/min over the run, "
                  f"{mb_min['half']:+.3f} MB/min over its second half")
    console.print(f"DOM nodes: {s[0]['nodes']:,.0f} -> {s[-1]['nodes']:,.0f}; slope {nodes_min['all']:+,.0f}/min "
                  f"over the run, {nodes_min['half']:+,.0f}/min over its second half")
    caught = m["caught_up_s"]
    console.print(f"the page's script ran {script:.2f} s per second (one core = 1.00); the top row showed the alert "
                  "newest at the end of the burst " + (f"{caught:.1f} s later" if caught is not None
                                                       else "NOT within 60 s"))
    half_mb = mb_min["half"] * (half[-1]["t"] - half[0]["t"]) / 60 if len(half) > 1 else float("nan")
    allowed = max(1.0, 0.1 * s[0]["heap"] / 2**20)
    flat = abs(half_mb) < allowed
    console.print(f"goal flat (the second half's growth by its slope, {half_mb:+.2f} MB, within {allowed:.1f} MB: "
                  f"10% of the starting heap or 1 MB, whichever is more): {'met' if flat else 'NOT met'}")
    console.print(f"CPU during part 3: {m['busy']:.2f} cores busy of {os.cpu_count()}: " + ", ".join(
        f"{g} {v:.2f}" for g, v in sorted(m["by_group"].items(), key=lambda kv: -kv[1]) if v >= 0.005))
    console.print(f"load average (1/5/15 min): {' / '.join(f'{x:.1f}' for x in load_start)} at the start, "
                  f"{' / '.join(f'{x:.1f}' for x in load_end)} at the end")


if __name__ == "__main__":
    main()
