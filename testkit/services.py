"""Local servers for tests and benchmarks: a free TCP port and a private Mosquitto with the production config."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from testkit.paths import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MosquittoProcess:
    """`mosquitto -c docker/mosquitto.conf -p PORT` with persistence in a private directory; a context manager
    yielding the broker's URL. Without a mosquitto binary it skips the calling test (pytest) or exits (bench)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.tmp: Path | None = None

    def __enter__(self) -> str:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(exe).exists():
            import pytest

            pytest.skip("mosquitto binary not installed (apt-get install mosquitto)")
        self.tmp = Path(tempfile.mkdtemp(prefix="enforcegw-mosq-"))
        conf = self.tmp / "mosquitto.conf"
        text = (REPO / "docker" / "mosquitto.conf").read_text()
        conf.write_text(text.replace("/mosquitto/data/", f"{self.tmp}/"))
        self.proc = subprocess.Popen([exe, "-c", str(conf), "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return f"mqtt://127.0.0.1:{self.port}"
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def __exit__(self, *exc: object) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def mosquitto_process() -> MosquittoProcess:
    """A private Mosquitto with our docker/mosquitto.conf (no silent QoS 1 drops) on a free port."""
    return MosquittoProcess()
