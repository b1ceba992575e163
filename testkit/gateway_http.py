"""Reading a running gateway's `/metrics` from outside the process."""

from __future__ import annotations

import time
import urllib.request


def metric(port: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def wait_gateway(http_port: int, timeout: float = 60.0) -> None:
    """Until the gateway on `http_port` reports its MQTT connection."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if metric(http_port, "enforcegw_mqtt_connected") == 1:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("gateway did not start")
