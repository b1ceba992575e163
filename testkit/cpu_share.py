"""Where the machine's CPU went during a benchmark window, from /proc: per group of processes (the gateway, the
load generators, PostgreSQL for the bench's database) and everything else, so a figure taken on a shared machine
says whether others were using the cores at the time."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
Classify = Callable[[int, str, str], str]  # (pid, comm, cmdline) -> group name


@dataclass(frozen=True)
class Snapshot:
    busy: float  # CPU seconds the whole machine has been busy (all cores)
    idle: float
    procs: dict[int, tuple[str, float]]  # pid -> (group, CPU seconds of the process and its threads)


def _stat_line() -> tuple[float, float]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / TICK, idle / TICK


def snapshot(classify: Classify) -> Snapshot:
    busy, idle = _stat_line()
    procs: dict[int, tuple[str, float]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmdline = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        rest = stat[stat.rindex(")") + 2:].split()
        procs[int(d.name)] = (classify(int(d.name), comm, cmdline), (int(rest[11]) + int(rest[12])) / TICK)
    return Snapshot(busy, idle, procs)


def shares(before: Snapshot, after: Snapshot) -> tuple[float, dict[str, float]]:
    """(cores busy on average over the window, {group: cores it used on average}); what no process alive at
    both ends accounts for (short-lived processes, the kernel) is 'other (unattributed)'."""
    wall = (after.busy + after.idle - before.busy - before.idle) / (os.cpu_count() or 1)
    out: dict[str, float] = {}
    for pid, (group, cpu) in after.procs.items():
        if pid in before.procs:
            out[group] = out.get(group, 0.0) + (cpu - before.procs[pid][1]) / wall
    busy = (after.busy - before.busy) / wall
    out["other (unattributed)"] = max(0.0, busy - sum(out.values()))
    return busy, out


class CpuAccount:
    """A benchmark's CPU table: `named` pids (the gateway, the broker, the bench itself ...) and command-line
    substrings name their groups, PostgreSQL is split into the bench's database and the rest, anything else is
    'other processes'; `measure(name)` adds one row for the window it encloses."""

    def __init__(self, dbname: str, *, cmdline_groups: dict[str, str] | None = None) -> None:
        self.dbname = dbname
        self.named: dict[int, str] = {}
        self.cmdline_groups = cmdline_groups or {}
        self.rows: list[tuple[str, float, dict[str, float]]] = []  # (measurement, cores busy, by group)

    def classify(self, pid: int, comm: str, cmdline: str) -> str:
        if pid in self.named:
            return self.named[pid]
        for needle, group in self.cmdline_groups.items():
            if needle in cmdline:
                return group
        if comm == "mosquitto_pub":
            return "load (mosquitto_pub)"
        if comm == "postgres" or cmdline.startswith("postgres"):
            return "postgres, bench db" if self.dbname in cmdline else "postgres, others + shared"
        return "other processes"

    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        before = snapshot(self.classify)
        try:
            yield
        finally:
            busy, by_group = shares(before, snapshot(self.classify))
            self.rows.append((name, busy, by_group))

    def table(self) -> tuple[list[str], list[list[str]]]:
        """Column groups (those that used at least 0.005 cores somewhere) and one row of figures per window."""
        groups = sorted({g for _, _, by in self.rows for g, v in by.items() if v >= 0.005})
        return groups, [[name, f"{busy:.2f}", *(f"{by.get(g, 0.0):.2f}" for g in groups)]
                        for name, busy, by in self.rows]
