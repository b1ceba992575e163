"""A real gateway in the test's event loop, and a real publisher: no mocks of our store or broker."""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg

from gateway.app import Gateway
from gateway.config import Settings
from gateway.devices import import_devices
from ingest.mqtt import BrokerAddress


def gateway_settings(tmp: Path, db_url: str, mqtt_url: str, *, mqtt: dict[str, object] | None = None,
                     **ingest: object) -> Settings:
    return Settings(
        data_dir=tmp,
        database={"url": db_url},
        mqtt={"url": mqtt_url, "client_id": f"gw-test-{uuid.uuid4().hex[:8]}", "session_expiry_s": 300,
              **(mqtt or {})},
        ingest={"batch_max_ms": 50, **ingest},
        api={"listen": "127.0.0.1:0"},
        # construction noise of today is judged by GB 12523-2025, shipped unconfirmed: the tests' gateway confirms
        # it as a bureau would, so its alerts stay admissible (tests of the unconfirmed state build their own)
        alerts={"confirmations": {r: {"confirmed_by": "TEST ONLY"} for r in ("gb12523_2025.day.laeq",
                                                                              "gb12523_2025.night.laeq")}},
    )


def register(db_url: str, *device_ids: str, kind: str = "sensor") -> None:
    with psycopg.connect(db_url) as conn:
        result = import_devices(conn, [{"id": d, "kind": kind, "name": d} for d in device_ids])
    assert not result.errors


class Publisher:
    """A paho publisher that waits for every PUBACK, so 'published' means the broker has it."""

    def __init__(self, url: str) -> None:
        addr = BrokerAddress.parse(url)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(1000)
        self.client.connect(addr.host, addr.port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes | str | dict) -> mqtt.MQTTMessageInfo:
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        return self.client.publish(topic, payload, qos=1)

    def publish_all(self, messages: list[tuple[str, bytes | str | dict]]) -> None:
        infos = [self.publish(t, p) for t, p in messages]
        for info in infos:
            info.wait_for_publish(timeout=30)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Listener:
    """Subscribes to `topic` and keeps every JSON message that arrives, in order."""

    def __init__(self, url: str, topic: str) -> None:
        addr = BrokerAddress.parse(url)
        self.messages: list[dict] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = lambda _c, _u, m: self.messages.append(json.loads(m.payload))
        self.client.on_subscribe = lambda *_a: self.ready.set()
        self.client.connect(addr.host, addr.port)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()
        assert self.ready.wait(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def reading(device: str, seq: int | None, t: datetime, **values: float) -> tuple[str, dict]:
    body: dict = {"ts": t.isoformat(), "readings": values}
    if seq is not None:
        body["seq"] = seq
    return f"enf/sensor/{device}/reading", body


def stream(device: str, n: int, start: datetime | None = None) -> list[tuple[str, dict]]:
    start = start or datetime.now(UTC) - timedelta(hours=1)
    return [reading(device, i, start + timedelta(seconds=i), LAeq=50 + i % 20) for i in range(n)]


async def wait_for(predicate: Callable[[], bool] | Callable[[], Awaitable[bool]], timeout: float = 30.0,
                   what: str = "condition") -> None:
    """Poll `predicate` (a plain function, run in a thread, or a coroutine function) until it is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if inspect.iscoroutinefunction(predicate):
            ok = await predicate()
        else:
            ok = await asyncio.to_thread(predicate)
            if inspect.isawaitable(ok):  # a lambda returning a coroutine
                ok = await ok
        if ok:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def count(db_url: str, sql: str, *params: object) -> int:
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql, params).fetchone()[0]


async def started(settings: Settings) -> Gateway:
    gw = Gateway(settings)
    await gw.start()
    await wait_for(gw.source.connected.is_set, 10, "MQTT connection")
    return gw
