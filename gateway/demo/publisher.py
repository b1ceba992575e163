"""The demo publisher: its own paho client and thread, sending the scenario as the simulated clock reaches
each message. It never runs on the gateway's event loop: the embedded broker lives there, and a blocking
publish on that loop would deadlock the broker it waits for."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import structlog

from gateway.demo.clock import SimClock
from gateway.demo.scenario import Message
from ingest.mqtt import BrokerAddress

log = structlog.get_logger(__name__)

# QoS 1 messages sent but not yet acknowledged by the broker. Above this the publisher waits, so a slow
# broker slows the simulation down instead of growing paho's queue without bound.
MAX_UNACKED = 2000


class DemoPublisher:
    def __init__(self, url: str, messages: Iterator[Message], clock: SimClock, *, mqtt_v5: bool) -> None:
        self.address = BrokerAddress.parse(url)
        self.messages = messages
        self.clock = clock
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"enforcegw-demo-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5 if mqtt_v5 else mqtt.MQTTv311)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        if self.address.username:
            self.client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            self.client.tls_set()
        self.client.on_publish = self._on_publish
        self.client.on_connect = self._on_connect
        self._connected = threading.Event()
        self.sent = 0
        self.acked = 0
        self.sim_time = clock.now()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-publisher", daemon=True)
        self.error: BaseException | None = None

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int, rc: object, props: object) -> None:
        with self._lock:
            self.acked += 1

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, rc: object, props: object) -> None:
        if not getattr(rc, "is_failure", False):
            self._connected.set()

    def start(self, timeout: float = 15.0) -> None:
        self.client.connect(self.address.host, self.address.port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(timeout):
            self.client.loop_stop()
            raise RuntimeError(f"demo publisher could not connect to {self.address.host}:{self.address.port}")
        self._thread.start()

    def stop(self, drain_s: float = 10.0) -> None:
        """Stop sending, wait (bounded) for the broker to acknowledge what was sent, disconnect."""
        self._stop.set()
        self._thread.join(timeout=30)
        deadline = time.monotonic() + drain_s
        while self.unacked() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.client.disconnect()
        self.client.loop_stop()

    def unacked(self) -> int:
        with self._lock:
            return self.sent - self.acked

    def _run(self) -> None:
        try:
            self._publish_loop()
        except BaseException as exc:  # surfaced by the summary and the runner, never silently lost
            self.error = exc
            log.exception("demo.publisher_failed")

    def _publish_loop(self) -> None:
        pending = next(self.messages)
        while not self._stop.is_set():
            now = self.clock.now()
            while pending.t <= now and not self._stop.is_set():
                if self.unacked() >= MAX_UNACKED:
                    break
                self.client.publish(pending.topic, json.dumps(pending.payload, ensure_ascii=False), qos=1)
                with self._lock:
                    self.sent += 1
                self.sim_time = pending.t
                pending = next(self.messages)
            self._stop.wait(0.02)
