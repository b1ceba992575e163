"""MQTT source: a paho-mqtt 2.x client whose `on_message` only hands raw bytes to a bounded queue.

Delivery guarantee: QoS 1 with *manual* acknowledgement. The writer acknowledges a message only after the
batch holding it has committed, so a crash between receipt and commit leaves the message unacknowledged and
the broker redelivers it; the store's unique keys turn that at-least-once into exactly-once.
The session is persistent (fixed client id, clean start off, session expiry), so what is published while
the gateway is down waits in the broker.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = structlog.get_logger(__name__)


def paho_loop_running(client: mqtt.Client) -> bool:
    """Whether paho's network thread (`loop_start`) runs. paho has no public call for it; its thread ends when
    a callback raises, and it clears `_thread` then, so `loop_start()` can start it again."""
    thread = getattr(client, "_thread", None)
    return thread is not None and thread.is_alive()


def restart_paho_loop(client: mqtt.Client) -> None:
    rc = client.loop_start()
    if rc != mqtt.MQTT_ERR_SUCCESS:
        raise RuntimeError(f"paho network thread did not start again: {mqtt.error_string(rc)}")


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One message for the ingest writer, from the broker or from another transport (HTTP ingest) that hands
    the writer the topic and bytes the device would have published, so both are judged and stored alike."""

    topic: str
    payload: bytes
    mid: int
    qos: int  # 0 for a message no broker waits to have acknowledged
    received_at: float  # time.time(); converted to datetime only when stored
    # Told the message's outcome (the writer's `Outcome`) once its batch has committed: a caller waiting to
    # answer its own client. Called from the writer's thread; it must not block.
    reply: Callable[[Any], None] | None = None
    # (reason, detail): refused before it could be parsed (an HTTP body over the size limit, read only in
    # part); the writer dead-letters it as it would a parser refusal.
    refusal: tuple[str, str] | None = None


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"unsupported MQTT URL scheme {parts.scheme!r} in {url!r}")
        tls = parts.scheme in ("mqtts", "ssl")
        return cls(parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883),
                   parts.username, parts.password, tls)


def message_topic(msg: mqtt.MQTTMessage) -> str:
    """The topic as text. MQTT requires UTF-8 and Mosquitto enforces it, but a broker that does not would make
    paho's `msg.topic` raise inside its network thread and end it; escaped, the router dead-letters it."""
    try:
        return msg.topic
    except UnicodeDecodeError:
        return bytes(msg._topic).decode("utf-8", "backslashreplace")


class MqttSource:
    """Subscribes to `topics` and puts `RawMessage`s on `out` (a bounded `queue.Queue`)."""

    def __init__(
        self,
        url: str,
        topics: list[str],
        out: queue.Queue[RawMessage],
        *,
        client_id: str,
        shared_group: str = "",
        protocol: str = "5",
        session_expiry_s: int = 7 * 24 * 3600,
        keepalive_s: int = 30,
        receive_maximum: int = 1000,
        on_connected: Callable[[bool], None] | None = None,
        on_queue_full: Callable[[], None] | None = None,
    ) -> None:
        self.address = BrokerAddress.parse(url)
        self.topics = topics
        self.out = out
        self.shared_group = shared_group
        self.v5 = protocol == "5"
        self.session_expiry_s = session_expiry_s
        self.keepalive_s = keepalive_s
        self.receive_maximum = receive_maximum
        self._on_connected = on_connected or (lambda _c: None)
        self._on_queue_full = on_queue_full or (lambda: None)
        self.connected = threading.Event()
        self.last_error: str | None = None  # why paho's network thread last died (a callback raised)
        self._started = False
        self._stopping = False
        if self.v5:
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        else:
            # MQTT 3.1.1 (the embedded amqtt broker): clean_session=False is the persistent session.
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                 protocol=mqtt.MQTTv311, clean_session=False)
        client.manual_ack_set(True)
        if self.address.username:
            client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            client.tls_set()
        client.on_connect = self._recording(self._handle_connect)
        client.on_disconnect = self._recording(self._handle_disconnect)
        client.on_message = self._recording(self._handle_message)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client = client

    def subscriptions(self) -> list[str]:
        if self.shared_group:
            return [f"$share/{self.shared_group}/{t}" for t in self.topics]
        return list(self.topics)

    def start(self) -> None:
        if self.v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.session_expiry_s
            # Receive Maximum bounds the unacknowledged messages the broker sends us: with acks after
            # commit it is the window that keeps the writer busy.
            props.ReceiveMaximum = min(self.receive_maximum, 65535)
            self.client.connect_async(self.address.host, self.address.port, self.keepalive_s,
                                      clean_start=False, properties=props)
        else:
            self.client.connect_async(self.address.host, self.address.port, self.keepalive_s)
        self._started = True
        self.client.loop_start()

    # liveness: paho's network thread dies when one of our callbacks raises
    def alive(self) -> bool:
        return not self._started or self._stopping or paho_loop_running(self.client)

    def restart_loop(self) -> None:
        """Start paho's network thread again on the same client and session."""
        restart_paho_loop(self.client)

    def _recording(self, callback: Callable[..., None]) -> Callable[..., None]:
        def wrapped(*args: object) -> None:
            try:
                callback(*args)
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                raise

        wrapped.__name__ = callback.__name__  # paho names the callback when it logs the failure
        return wrapped

    def stop(self) -> None:
        self._stopping = True
        self.client.disconnect()
        self.client.loop_stop()
        self.connected.clear()

    def ack(self, messages: list[RawMessage]) -> None:
        """Acknowledge committed messages, in the order received (MQTT requires PUBACK order)."""
        for m in messages:
            if m.qos > 0:
                self.client.ack(m.mid, m.qos)

    # paho callbacks: they run in paho's network thread and must stay short.
    def _handle_connect(self, client: mqtt.Client, _u: object, flags: mqtt.ConnectFlags,
                        reason_code: object, _p: object) -> None:
        if getattr(reason_code, "is_failure", False):
            log.warning("mqtt.connect_refused", reason=str(reason_code))
            return
        client.subscribe([(t, 1) for t in self.subscriptions()])
        self.connected.set()
        log.info("mqtt.connected", host=self.address.host, port=self.address.port,
                 session_present=flags.session_present, shared_group=self.shared_group or None)
        self._on_connected(True)

    def _handle_disconnect(self, _c: mqtt.Client, _u: object, _f: object, reason_code: object, _p: object) -> None:
        self.connected.clear()
        self._on_connected(False)
        if not self._stopping:
            log.warning("mqtt.disconnected", reason=str(reason_code))

    def _handle_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        raw = RawMessage(message_topic(msg), msg.payload, msg.mid, msg.qos, time.time())
        try:
            self.out.put_nowait(raw)
        except queue.Full:
            # Back-pressure, never a drop: block paho's thread until the writer catches up. The broker
            # keeps the rest because we have not acknowledged it.
            self._on_queue_full()
            self.out.put(raw)
