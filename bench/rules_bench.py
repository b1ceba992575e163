"""Sensor rule engine throughput, in process, one core (goal: >= 100,000 readings/s with 1,000
devices and 5 rules each).

Scenario: 1,000 noise devices, each in a construction site and a GB 3096 class-2 zone, so 5 rules are
bound per device (GB 12523 LAeq day + night, GB 12523 night LAmax, GB 3096 class 2 LAeq day + night).
Every device sends LAeq and LAmax once per second of stream time, at night (so the night rules are
in period), with some devices exceeding (alerts open, update and end). Readings are built before timing.

Then (unless --no-e2e) the end-to-end latency run of bench/rules_latency.py: MQTT publish of the reading that
crosses the limit -> alert row and MQTT alert, under 5,000 readings/s of background load.

    python bench/rules_bench.py [--devices 1000] [--seconds 60] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from detectors.sensors.admissibility import DeviceInfo, ZoneRef
from detectors.sensors.catalogue import load_default_catalogue
from detectors.sensors.engine import RuleEngine
from ingest.models import Reading


def make_devices(n: int) -> list[DeviceInfo]:
    return [
        DeviceInfo(f"noise-{i:04d}", "noise", (ZoneRef(f"site-{i}", "construction_site"),
                                                ZoneRef(f"area-{i % 50}", "noise_class_2")),
                   legal_review_ref="LR-1", technical_review_ref="TR-1", calibration_cert="C-1",
                   calibration_valid_until=datetime(2030, 1, 1, tzinfo=UTC))
        for i in range(n)
    ]


def make_readings(devices: list[DeviceInfo], seconds: int, seed: int = 7) -> list[Reading]:
    rnd = random.Random(seed)
    t0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)  # 23:00 Asia/Shanghai: night rules in period
    loud = {d.id for d in devices[: len(devices) // 10]}
    out: list[Reading] = []
    for s in range(seconds):
        t = t0 + timedelta(seconds=s)
        for d in devices:
            base = 62.0 if d.id in loud else 48.0
            laeq = base + rnd.uniform(-3, 3)
            out.append(Reading(t, d.id, "LAeq", laeq, s))
            out.append(Reading(t, d.id, "LAmax", laeq + rnd.uniform(0, 12), s))
    return out


def run(n_devices: int, seconds: int, lateness: float) -> dict:
    cat = load_default_catalogue()
    devices = make_devices(n_devices)
    engine = RuleEngine(cat, devices, lateness_s=lateness)
    rules_per_device = len(engine.trackers(devices[0].id))
    readings = make_readings(devices, seconds)
    feed = engine.feed
    events = 0
    t = time.perf_counter()
    for r in readings:
        ev = feed(r)
        if ev:
            events += len(ev)
    events += len(engine.advance(readings[-1].time + timedelta(seconds=lateness + 1)))
    dt = time.perf_counter() - t
    return {"devices": n_devices, "rules/device": rules_per_device, "readings": len(readings),
            "seconds": dt, "readings/s": len(readings) / dt, "events": events}


def raw_loop(readings_n: int) -> float:
    """The ceiling in the same run: a loop that only does the dict lookup and the timestamp per reading."""
    d = {("x", "LAeq"): 1}
    now = datetime.now(UTC)
    items = [Reading(now, "x", "LAeq", 1.0)] * readings_n
    t = time.perf_counter()
    for r in items:
        d.get((r.device_id, r.metric))
        r.time.timestamp()
    return readings_n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=3, help="runs per configuration; the best is reported")
    ap.add_argument("--no-e2e", dest="e2e", action="store_false", help="skip the end-to-end MQTT latency run")
    ap.add_argument("--e2e-rate", type=float, default=5000.0, help="background readings/s for the latency run")
    ap.add_argument("--e2e-triggers", type=int, default=150, help="alerts to time per run")
    ap.add_argument("--e2e-runs", type=int, default=3,
                    help="latency runs (fresh gateway, broker and database each); p99 is also given over all pooled")
    args = ap.parse_args()
    # best of N: the machine is shared, the best run is the one least disturbed by other processes
    rows = [max((run(args.devices, args.seconds, lat) for _ in range(args.repeat)), key=lambda r: r["readings/s"])
            for lat in (0.0, 5.0)]
    ceiling = raw_loop(rows[0]["readings"])
    print(f"{'lateness_s':>10} {'devices':>8} {'rules/dev':>9} {'readings':>9} {'events':>7} "
          f"{'readings/s':>12} {'vs goal 100k':>12} {'vs raw loop':>11}")
    for lateness, r in zip((0.0, 5.0), rows, strict=True):
        print(f"{lateness:>10.1f} {r['devices']:>8} {r['rules/device']:>9} {r['readings']:>9} {r['events']:>7} "
              f"{r['readings/s']:>12,.0f} {r['readings/s'] / 100_000:>11.2f}x {r['readings/s'] / ceiling:>10.2%}")
    print(f"raw loop ceiling (lookup + timestamp only): {ceiling:,.0f} readings/s")
    if args.e2e:
        from rules_latency import WARMUP, run_e2e

        print(f"\nend to end (MQTT publish of the crossing reading -> alert row + MQTT alert), {args.e2e_runs} runs of "
              f"{args.e2e_triggers} alerts after 10 s of load and {WARMUP} warm-up alerts:")
        pooled: list[float] = []
        for k in range(args.e2e_runs):
            e = run_e2e(rate=args.e2e_rate, triggers=args.e2e_triggers)
            pooled += e["latencies_ms"]
            print(f"  run {k + 1}: background {e['background_rate']:,.0f} readings/s stored (asked "
                  f"{args.e2e_rate:,.0f}); alerts {e['alerts_received']}/{e['triggers']} received, {e['alert_rows']} "
                  f"rows, {e['false_alerts']} false; p50 {e['p50_ms']:.0f} ms, p99 {e['p99_ms']:.0f} ms, max "
                  f"{e['max_ms']:.0f} ms; inside the gateway mean {e['inside_gateway_mean_ms']:.0f} ms (ingest batch "
                  f"commit mean {e['flush_mean_ms']:.0f} ms); slowest (trigger, ms): "
                  + ", ".join(f"({n}, {ms:.0f})" for n, ms in e["worst"][:3])
                  + (f"; gateway stages over 100 ms: {e['slow_stages']}" if e["slow_stages"] else ""))
        pooled.sort()
        if pooled:
            p99 = pooled[min(len(pooled) - 1, int(len(pooled) * 0.99))]
            print(f"  pooled over {len(pooled)} alerts: p50 {statistics.median(pooled):.0f} ms, p99 {p99:.0f} ms, "
                  f"max {pooled[-1]:.0f} ms (goal p99 <= 200 ms: {'met' if p99 <= 200 else 'NOT met'})")

if __name__ == "__main__":
    main()
