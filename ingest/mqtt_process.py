"""MQTT receipt in a child process: the same source as `MqttSource`, with paho's work off the gateway's GIL.

paho decodes every packet in Python (about 125 us of CPU per MQTT 5 message here, bench/mqtt_client_bench.py);
at 5,000 readings/s that is most of one interpreter, shared with the ingest writer, the alert rules and the API.
Here paho runs in a spawned process and hands over received messages in pickled batches through a pipe; the
gateway unpickles a batch and queues its messages (a few microseconds each). Acknowledgements go back the other
way once the batch that holds them has committed, so the delivery guarantee is `MqttSource`'s: QoS 1, acked
after commit, persistent session.

A respawned child is a new connection to the same session: the broker redelivers what the old one never
acknowledged, so acknowledgements for messages the old child received are dropped (by generation) rather than
sent under packet ids the new connection may have reused; the store's unique keys absorb the redelivery.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import multiprocessing.connection as mpc
import pickle
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

from ingest.mqtt import MqttSource, RawMessage

log = structlog.get_logger(__name__)

BATCH_MAX = 1000  # messages per pipe write
BATCH_LINGER_S = 0.002  # a lone message waits at most this long for company
WATCH_EVERY_S = 0.5

# Pipe records: (kind, body). Child to parent: ("msgs", [(topic, payload, mid, qos, received_at), ...]),
# ("connected", bool), ("error", text). Parent to child: ("ack", [(mid, qos), ...]), ("stop", None).
Record = tuple[str, Any]


def _send(conn: mpc.Connection, record: Record) -> None:
    conn.send_bytes(pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL))


def _child_forward(inbox: queue.Queue[RawMessage], events: queue.Queue[Record], out: mpc.Connection,
                   stop: threading.Event) -> None:
    """Ship received messages to the parent in batches, with connection changes in order between them."""
    while not stop.is_set():
        while True:
            try:
                _send(out, events.get_nowait())
            except queue.Empty:
                break
        try:
            first = inbox.get(timeout=0.05)
        except queue.Empty:
            continue
        batch = [(first.topic, first.payload, first.mid, first.qos, first.received_at)]
        deadline = time.monotonic() + BATCH_LINGER_S
        while len(batch) < BATCH_MAX:
            try:
                m = inbox.get_nowait()
            except queue.Empty:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    m = inbox.get(timeout=left)
                except queue.Empty:
                    break
            batch.append((m.topic, m.payload, m.mid, m.qos, m.received_at))
        _send(out, ("msgs", batch))


def child_main(url: str, topics: list[str], options: dict[str, Any], to_parent: mpc.Connection,
               from_parent: mpc.Connection, setup: tuple[Callable[..., None], tuple[Any, ...]] | None) -> None:
    """The child process: one `MqttSource`, a forwarder thread, and acks applied as the parent sends them."""
    if setup is not None:
        setup[0](*setup[1])
    inbox: queue.Queue[RawMessage] = queue.Queue(maxsize=BATCH_MAX * 4)
    events: queue.Queue[Record] = queue.Queue()
    source = MqttSource(url, topics, inbox, on_connected=lambda c: events.put(("connected", c)), **options)
    stop = threading.Event()
    forwarder = threading.Thread(target=_child_forward, args=(inbox, events, to_parent, stop),
                                 name="mqtt-forward", daemon=True)
    forwarder.start()
    source.start()
    try:
        while True:
            if from_parent.poll(WATCH_EVERY_S):
                kind, body = pickle.loads(from_parent.recv_bytes())
                if kind == "stop":
                    break
                for mid, qos in body:
                    source.client.ack(mid, qos)
            if not source.alive() or not forwarder.is_alive():
                # The parent respawns us; a paho thread that died in a callback takes its reason along.
                events.put(("error", source.last_error or "paho network thread ended"))
                time.sleep(0.2)  # let the forwarder send it
                raise SystemExit(3)
    except (EOFError, OSError):
        pass  # the parent is gone: nothing is acknowledged any more, so the broker keeps what we hold
    finally:
        stop.set()
        source.stop()


class ProcessMqttSource:
    """`MqttSource`'s interface (out, connected, last_error, start, stop, alive, restart_loop, ack) with paho in
    a child process."""

    def __init__(self, url: str, topics: list[str], out: queue.Queue[RawMessage], *,
                 on_connected: Callable[[bool], None] | None = None,
                 on_queue_full: Callable[[], None] | None = None,
                 setup: tuple[Callable[..., None], tuple[Any, ...]] | None = None, **options: Any) -> None:
        MqttSource(url, topics, out, **options)  # checks the URL and options here, where errors are seen
        self.url = url
        self.topics = topics
        self.out = out
        self.options = options
        self.setup = setup
        self._on_connected = on_connected or (lambda _c: None)
        self._on_queue_full = on_queue_full or (lambda: None)
        self.connected = threading.Event()
        self.last_error: str | None = None
        self.generation = 0
        self._ctx = mp.get_context("spawn")  # the gateway runs threads: never fork it
        self._process: Any = None
        self._reader: threading.Thread | None = None
        self._to_child: mpc.Connection | None = None
        self._ack_lock = threading.Lock()
        self._started = False
        self._stopping = False

    def start(self) -> None:
        self._started = True
        self._spawn()

    def _spawn(self) -> None:
        self.generation += 1
        parent_in, child_out = self._ctx.Pipe(duplex=False)
        child_in, parent_out = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(
            target=child_main, name="enforcegw-mqtt",
            args=(self.url, self.topics, self.options, child_out, child_in, self.setup), daemon=True)
        process.start()
        child_out.close()
        child_in.close()
        self._process = process
        self._to_child = parent_out
        self._reader = threading.Thread(target=self._read, args=(parent_in, self.generation),
                                        name="mqtt-process-reader", daemon=True)
        self._reader.start()

    def _read(self, conn: mpc.Connection, generation: int) -> None:
        try:
            while True:
                kind, body = pickle.loads(conn.recv_bytes())
                if kind == "msgs":
                    for topic, payload, mid, qos, received_at in body:
                        self._put(RawMessage(topic, payload, (generation << 32) | mid, qos, received_at))
                elif kind == "connected":
                    self._set_connected(bool(body))
                elif kind == "error":
                    self.last_error = str(body)
        except (EOFError, OSError):
            pass
        finally:
            conn.close()
            if generation == self.generation:
                self._set_connected(False)
                if not self._stopping and self.last_error is None:
                    process = self._process
                    if process is not None:
                        process.join(5)  # the pipe closes as the child dies; its exit code comes once it is reaped
                    code = process.exitcode if process is not None else None
                    self.last_error = f"MQTT receive process ended (exit code {code})"

    def _put(self, raw: RawMessage) -> None:
        try:
            self.out.put_nowait(raw)
        except queue.Full:
            # Back-pressure as in MqttSource: the pipe fills, the child's paho thread blocks, the broker holds.
            self._on_queue_full()
            self.out.put(raw)

    def _set_connected(self, connected: bool) -> None:
        if connected == self.connected.is_set():
            return
        if connected:
            self.connected.set()
        else:
            self.connected.clear()
        self._on_connected(connected)

    def alive(self) -> bool:
        if not self._started or self._stopping:
            return True
        return bool(self._process is not None and self._process.is_alive()
                    and self._reader is not None and self._reader.is_alive())

    def restart_loop(self) -> None:
        """Spawn a new child on the same session (the worker registry calls this when `alive` is false)."""
        old = self._process
        if old is not None and old.is_alive():
            old.kill()
        if old is not None:
            old.join(5)
        if self._reader is not None:
            self._reader.join(5)
        self.last_error = None
        self._spawn()

    def ack(self, messages: list[RawMessage]) -> None:
        """Acknowledge committed messages of the current child, in the order received."""
        current = self.generation
        pairs = [(m.mid & 0xFFFFFFFF, m.qos) for m in messages if m.qos > 0 and m.mid >> 32 == current]
        if not pairs:
            return
        with self._ack_lock:
            conn = self._to_child
            if conn is None or current != self.generation:
                return
            # A dead child's session keeps what it held unacknowledged: the next child gets it again.
            with contextlib.suppress(OSError, ValueError):
                _send(conn, ("ack", pairs))

    def stop(self) -> None:
        self._stopping = True
        with self._ack_lock:
            if self._to_child is not None:
                with contextlib.suppress(OSError, ValueError):
                    _send(self._to_child, ("stop", None))
        if self._process is not None:
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5)
        if self._reader is not None:
            self._reader.join(5)
        if self._to_child is not None:
            self._to_child.close()
        self._set_connected(False)
