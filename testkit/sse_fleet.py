"""A fleet of console clients on `GET /api/alerts/stream`, in a process of its own, for the console benchmark.

    python -m testkit.sse_fleet --base http://127.0.0.1:PORT --token SECRET --clients 200 --out F.json
                                [--mqtt-port PORT]

It prints `ready` once every client has its stream open, then `new N` (the `new` events received by all clients
together) about ten times a second. When its stdin closes it writes to --out, as JSON, when each client saw the
`new` event of each device's alert ({"sse": {device_id: [t, ...]}}, one t per client that saw it) and, with
--mqtt-port, when the alert's `enf/alerts/...` message arrived ({"mqtt": {device_id: t}}). Times are
time.monotonic(), one clock for every process on the machine, so the publisher's send time can be subtracted.

A process apart from the publisher and the gateway so that neither one's GIL delays the other's clock reading.
Only `new` events are decoded; the others are read and counted as lines, which keeps the fleet's own CPU small.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
import paho.mqtt.client as mqtt

PROGRESS_S = 0.1


class Fleet:
    def __init__(self, base: str, token: str, clients: int) -> None:
        self.base, self.clients = base, clients
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        self.sse: dict[str, list[float]] = {}
        self.mqtt: dict[str, float] = {}
        self.new_events = 0
        self.open = 0
        self.all_open = asyncio.Event()

    async def client(self, session: aiohttp.ClientSession) -> None:
        async with session.get(self.base + "/api/alerts/stream", headers=self.headers) as resp:
            if resp.status != 200:
                raise SystemExit(f"stream refused: {resp.status} {await resp.text()}")
            await resp.content.readline()  # the "retry:" preamble: the server has this client from now on
            self.open += 1
            if self.open == self.clients:
                self.all_open.set()
            event = data = ""
            while True:
                line = await resp.content.readline()
                if not line:
                    return
                if line == b"\n":
                    if event == "new":
                        t = time.monotonic()
                        device = json.loads(data)["alert"]["device_id"]
                        self.sse.setdefault(device, []).append(t)
                        self.new_events += 1
                    event = data = ""
                elif line.startswith(b"event: "):
                    event = line[7:].decode().strip()
                elif line.startswith(b"data: ") and event == "new":
                    data = line[6:].decode()

    def on_mqtt(self, _c: object, _u: object, m: mqtt.MQTTMessage) -> None:
        t = time.monotonic()
        with contextlib.suppress(ValueError, KeyError, TypeError):
            self.mqtt.setdefault(json.loads(m.payload)["after"]["device_id"], t)


def _mqtt_subscriber(fleet: Fleet, port: int) -> mqtt.Client:
    ready = threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    sub.on_message = fleet.on_mqtt
    sub.on_subscribe = lambda *_a: ready.set()
    sub.connect("127.0.0.1", port)
    sub.subscribe("enf/alerts/#", qos=1)
    sub.loop_start()
    if not ready.wait(10):
        raise SystemExit("MQTT alert subscription not acknowledged")
    return sub


async def run(args: argparse.Namespace) -> None:
    fleet = Fleet(args.base, args.token, args.clients)
    sub = _mqtt_subscriber(fleet, args.mqtt_port) if args.mqtt_port else None
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    # no connection limit: aiohttp's default of 100 per session would queue half the fleet
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                     timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as session:
        tasks = [asyncio.ensure_future(fleet.client(session)) for _ in range(args.clients)]
        opened = asyncio.ensure_future(fleet.all_open.wait())
        done, _ = await asyncio.wait([opened, *tasks], timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if opened not in done:
            raise SystemExit(f"only {fleet.open} of {args.clients} streams opened")
        print("ready", flush=True)
        while not stdin_closed.done():
            print(f"new {fleet.new_events}", flush=True)
            await asyncio.sleep(PROGRESS_S)
            for t in tasks:
                if t.done() and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if sub is not None:
        sub.loop_stop()
        sub.disconnect()
    Path(args.out).write_text(json.dumps({"sse": fleet.sse, "mqtt": fleet.mqtt}))


class FleetProcess:
    """The fleet, seen from the benchmark: started with `start()` (returns once every stream is open),
    `wait_new(n)` until the fleet has seen n `new` events in all, `finish()` for the arrival times."""

    def __init__(self, base: str, token: str, clients: int, mqtt_port: int = 0) -> None:
        self.out = Path(tempfile.mkstemp(prefix="sse-fleet-", suffix=".json")[1])
        self.args = [sys.executable, "-m", "testkit.sse_fleet", "--base", base, "--token", token,
                     "--clients", str(clients), "--out", str(self.out), "--mqtt-port", str(mqtt_port)]
        self.new_events = 0
        self.proc: subprocess.Popen | None = None

    def start(self) -> FleetProcess:
        from testkit.paths import REPO

        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
        if self.proc.stdout.readline().strip() != "ready":
            raise SystemExit("the SSE fleet did not open its streams")
        threading.Thread(target=self._progress, daemon=True).start()
        return self

    def _progress(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("new "):
                self.new_events = int(line.split()[1])

    def wait_new(self, n: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.new_events < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.new_events >= n

    def finish(self) -> dict:
        self.proc.stdin.close()
        if self.proc.wait(60) != 0:
            raise SystemExit("the SSE fleet failed")
        try:
            return json.loads(self.out.read_text())
        finally:
            self.out.unlink(missing_ok=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True, help="the gateway's HTTP base URL")
    ap.add_argument("--token", required=True, help="a bearer secret that may read the queue")
    ap.add_argument("--clients", type=int, default=200, help="streams to hold open")
    ap.add_argument("--out", required=True, help="where to write the arrival times (JSON)")
    ap.add_argument("--mqtt-port", type=int, default=0, help="also time the MQTT alert sink on this broker port")
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
