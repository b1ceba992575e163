"""The printed tables of bench/cases_bench.py: latency, throughput, recovery and where the CPU went."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from testkit.bench_gateway import load_avg, print_cpu
from testkit.cpu_share import CpuAccount

console = Console(width=130)
STALL_S = 0.2  # the slow sink's answer time
OUTAGE_S = 600.0  # the outage the recovery part recreates


def report_latency(raw: dict, load: dict) -> None:
    t = Table("final decision", "background readings/s", "tasks at sink", "p50 ms", "p99 ms", "max ms",
              "p99 / raw p99", "decision answered p50 / p99", "POST -> sent p50 / p99", "request p50 / p99",
              title="1. final review decision (HTTP POST) -> the sink holding the task")
    for phase in (raw, load):
        for name, r in phase["rows"].items():
            rr = raw["rows"][name]
            t.add_row(name, f"{phase['rate']:,.0f} (asked {phase['asked_rate']:,.0f})" if phase["asked_rate"]
                      else "none", f"{r['received']} of {r['n']}", f"{r['p50']:.0f}", f"{r['p99']:.0f}",
                      f"{r['max']:.0f}", f"{r['p99'] / rr['p99']:.2f}",
                      f"{r['answer_p50']:.0f} / {r['answer_p99']:.0f}",
                      f"{r['send_p50']:.0f} / {r['send_p99']:.0f}", f"{r['request_p50']:.0f} / {r['request_p99']:.0f}")
    console.print(t)
    both = load["rows"]["both"]
    met = both["p99"] <= 1000 and both["received"] == both["n"]
    console.print(f"goal p99 <= 1 s under load, every task at the sink: {'met' if met else 'NOT met'} "
                  f"(p99 {both['p99']:.0f} ms over {both['n']} decisions). 'request' is the gateway's own POST to "
                  "the sink (attempt latency), the raw cost of one delivery")


def report_throughput(slow: dict, instant: dict) -> None:
    t = Table("receiver", "tasks", "delivered", "seconds", "tasks/s", "first after ms", "max_in_flight",
              "requests open, mean / most", "sink handled at once", "bound tasks/s", "tasks/s / bound",
              title="2. throughput, tasks made at once")
    for r, bound, label in ((slow, slow["max_in_flight"] / STALL_S, f"max_in_flight / {STALL_S:g} s"),
                            (instant, None, "")):
        t.add_row(r["label"], f"{r['n']:,}", f"{r['done']:,}", f"{r['elapsed']:.1f}", f"{r['rate']:,.1f}",
                  f"{r['first_s'] * 1000:.0f}", str(r["max_in_flight"]), f"{r['sent_mean']:.1f} / {r['sent_most']}",
                  str(r["sink_max_in_flight"]),
                  f"{bound:,.0f} ({label})" if bound else "-", f"{r['rate'] / bound:.2f}" if bound else "-")
    console.print(t)
    console.print(f"goal >= 50 tasks/s to a 200 ms sink: {'met' if slow['rate'] >= 50 else 'NOT met'} "
                  f"({slow['rate']:.1f}); duplicates at the sinks: {slow['duplicates'] + instant['duplicates']}")


def report_recovery(r: dict, instant: dict) -> None:
    o = r["outage"]
    bound = r["n"] / instant["rate"]
    t = Table("measure", "value", title=f"3. recovery: {r['n']:,} deliveries pending after a "
              f"{OUTAGE_S / 60:.0f}-minute outage")
    t.add_row("tasks made (COPY, one transaction)", f"{r['made_s']:.1f} s")
    t.add_row("worker failing on each while the port is closed",
              f"{r['failed_s']:.1f} s, {r['attempts_while_down']:,} attempts "
              f"({r['attempts_while_down'] / r['failed_s']:,.0f}/s)")
    t.add_row("rows as the outage left them: attempts -> deliveries",
              ", ".join(f"{a}: {n:,}" for a, n in o.attempts.items()))
    t.add_row("next attempt due in (s, soonest / latest)", f"{o.due_in_s[0]:.2f} / {o.due_in_s[1]:,.0f}")
    t.add_row("first delivery after the sink opened", f"{r['first_s'] * 1000:.0f} ms")
    t.add_row("drain: sink open -> all delivered", f"{r['drain_s']:.1f} s ({r['done']:,} of {r['n']:,})")
    t.add_row("bound: pending / instant throughput of 2", f"{bound:.1f} s ({instant['rate']:,.0f} tasks/s)")
    t.add_row("drain / bound", f"{r['drain_s'] / bound:.2f}")
    t.add_row("requests open during the drain, mean / most", f"{r['sent_mean']:.1f} / {r['sent_most']}")
    t.add_row("push_failed / duplicates at the sink / sink at once",
              f"{r['push_failed']} / {r['duplicates']} / {r['sink_max_in_flight']}")
    console.print(t)


def report_cpu(cpu: CpuAccount) -> None:
    print_cpu(console, cpu)
    console.print(f"load average at the end (1/5/15 min): {load_avg()}")
