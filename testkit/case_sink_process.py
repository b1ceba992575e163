"""`enforcegw case-sink` as a process of its own, for benchmarks: the receiver then has its own interpreter and
its CPU is counted apart from the gateway's and the load generator's. Its port is chosen before it starts, so a
gateway can be configured with a receiver that is not there yet (connection refused until `start`)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from testkit.paths import REPO
from testkit.services import free_port


@dataclass
class SinkProcess:
    secret: str
    data: Path                      # the sink's JSON lines: every delivery it stored, with its receipt time
    stall_s: float = 0.0
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    opened_at: float | None = None  # Unix time its port first accepted a connection

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> SinkProcess:
        """Start it, note when its port opens, and wait until it answers."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "case-sink", "--port", str(self.port), "--secret", self.secret,
             "--data", str(self.data), "--stall-s", str(self.stall_s), "--log-level", "WARNING"], cwd=REPO)
        deadline = time.monotonic() + timeout
        # a bare connect, polled often: the kernel accepts once the sink listens, however busy the sink is then
        # (a sender waiting for the port floods it at once, which would delay an HTTP probe's answer)
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                self.opened_at = time.time()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"case-sink on port {self.port} did not start") from None
                time.sleep(0.002)
        self.health()
        return self

    def health(self) -> dict[str, Any]:
        """stored, in_flight, max_in_flight (the most requests it handled at once) and counts by outcome."""
        with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as r:
            return json.loads(r.read())

    def received(self) -> dict[str, datetime]:
        """webhook-id -> when the sink received it, from its data file."""
        if not self.data.exists():
            return {}
        out = {}
        for line in self.data.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                out[rec["id"]] = datetime.fromisoformat(rec["received_at"])
        return out

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self.proc = None

    def __enter__(self) -> SinkProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
