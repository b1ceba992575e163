"""Publishes what the gateway itself says on MQTT (alerts, no-fly events) at QoS 1.

A client of its own, separate from the ingest subscriber: its publishes must not queue behind the
ingest session's acknowledgements. Thread-safe (paho's publish is), so the writer and alert threads
call it directly.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import paho.mqtt.client as mqtt
import structlog

from ingest.mqtt import BrokerAddress, paho_loop_running, restart_paho_loop

log = structlog.get_logger(__name__)


def _default(o: Any) -> Any:
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    return str(o)


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, default=_default, ensure_ascii=False, separators=(",", ":")).encode()


class Publisher:
    def __init__(self, url: str, *, client_id: str, protocol: str = "5") -> None:
        addr = BrokerAddress.parse(url)
        proto = mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"{client_id}-pub-{uuid.uuid4().hex[:6]}", protocol=proto)
        if addr.username:
            self.client.username_pw_set(addr.username, addr.password)
        if addr.tls:
            self.client.tls_set()
        self.client.max_inflight_messages_set(1000)
        self.client.reconnect_delay_set(1, 30)
        self._addr = addr
        self._running = False

    def start(self) -> None:
        self.client.connect_async(self._addr.host, self._addr.port, 30)
        self._running = True
        self.client.loop_start()

    def stop(self) -> None:
        self._running = False
        self.client.disconnect()
        self.client.loop_stop()

    def alive(self) -> bool:
        """paho's network thread runs (while disconnected it keeps reconnecting; it ends only on a bug)."""
        return not self._running or paho_loop_running(self.client)

    def restart_loop(self) -> None:
        restart_paho_loop(self.client)

    def publish(self, topic: str, payload: dict[str, Any]) -> mqtt.MQTTMessageInfo:
        # paho queues while disconnected and sends on reconnect (max_queued_messages unbounded).
        return self.client.publish(topic, encode(payload), qos=1)
