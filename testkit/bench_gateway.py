"""What every benchmark that drives a whole gateway needs: the gateway with the console API as a process of its
own on a free port, stopped cleanly (or killed), percentiles, the load average, and the CPU table printed."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from testkit.cpu_share import CpuAccount
from testkit.gateway_http import wait_gateway
from testkit.paths import REPO
from testkit.services import free_port


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * q))]


def load_avg() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def start_gateway(db: str, mqtt_url: str, data_dir: Path, extra: dict[str, Any] | None = None
                  ) -> tuple[subprocess.Popen, int]:
    """`enforcegw run` (python -m api.main) with a config file of its own: the bench's store and broker, a free
    HTTP port, warnings only, and `extra` top-level sections (`api` and `mqtt` sections are merged with
    the port and the broker)."""
    http = free_port()
    extra = dict(extra or {})
    config: dict[str, Any] = {
        "data_dir": str(data_dir / "data"), "database": {"url": db},
        "mqtt": {**extra.pop("mqtt", {}), "url": mqtt_url, "client_id": f"bench-{uuid.uuid4().hex[:6]}"},
        "api": {**extra.pop("api", {}), "listen": f"127.0.0.1:{http}"}, "log": {"level": "WARNING"}, **extra}
    path = data_dir / "gateway.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    gw = subprocess.Popen([sys.executable, "-m", "api.main", "-c", str(path), "run"], cwd=REPO)
    wait_gateway(http)
    return gw, http


def stop_gateway(gw: subprocess.Popen, timeout: float = 60.0) -> None:
    gw.terminate()
    try:
        gw.wait(timeout)
    except subprocess.TimeoutExpired:
        gw.kill()
        gw.wait()


def print_cpu(console: Console, cpu: CpuAccount) -> None:
    groups, rows = cpu.table()
    t = Table("measurement", "cores busy", *groups,
              title=f"CPU during each measurement, cores of {os.cpu_count()} (others' processes share this machine)")
    for row in rows:
        t.add_row(*row)
    console.print(t)
