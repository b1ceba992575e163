"""Where alert changes go once the store has them: an `AlertSink` per consumer, each behind its own queue.

The alert service commits a change first, then hands an `AlertChange` to `SinkFanout.dispatch`, which only
enqueues: every sink drains its own bounded queue in its own thread, so a slow or failing consumer (a broker
that is down, a case system that times out, a browser on a slow link) never delays the store or the other sinks.
The store stays the record: a sink that overflows drops the oldest change and counts it, and consumers that
must not miss anything (the SSE stream, the case outbox) read what they missed from the store by id.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import structlog

log = structlog.get_logger(__name__)

ChangeType = Literal["new", "update", "end", "review"]


@dataclass(frozen=True, slots=True)
class AlertChange:
    """One committed change of an alert: its row before and after, as the store returned them."""

    type: ChangeType
    kind: str
    before: dict[str, Any]
    after: dict[str, Any]


class AlertSink(Protocol):
    """A consumer of committed alert changes. `deliver` may block or raise; the fan-out isolates it."""

    name: str

    def deliver(self, change: AlertChange) -> None: ...


Counter = Callable[[str], None]  # called with the sink's name


def _no_count(_name: str) -> None:
    return None


class _SinkWorker:
    def __init__(self, sink: AlertSink, maxsize: int, on_drop: Counter, on_error: Counter) -> None:
        self.sink = sink
        self.queue: queue.Queue[AlertChange | None] = queue.Queue(maxsize=maxsize)
        self.on_drop = on_drop
        self.on_error = on_error
        self.thread = self._new_thread()

    def _new_thread(self) -> threading.Thread:
        return threading.Thread(target=self._run, name=f"alert-sink-{self.sink.name}", daemon=True)

    def restart(self) -> None:
        """A new thread on the same queue: what was queued while the old one was dead is still delivered."""
        if not self.thread.is_alive():
            self.thread = self._new_thread()
            self.thread.start()

    def put(self, change: AlertChange) -> None:
        while True:
            try:
                self.queue.put_nowait(change)
                return
            except queue.Full:
                try:
                    self.queue.get_nowait()  # the oldest goes; the newest state matters most to a live view
                    self.queue.task_done()
                    self.on_drop(self.sink.name)
                except queue.Empty:
                    pass

    def _run(self) -> None:
        while True:
            change = self.queue.get()
            try:
                if change is None:
                    return
                self.sink.deliver(change)
            except Exception:  # a consumer's failure is its own: count it and go on with the next change
                self.on_error(self.sink.name)
                log.exception("alerts.sink_failed", sink=self.sink.name, type=change.type,  # type: ignore[union-attr]
                              clue_code=change.after.get("clue_code"))  # type: ignore[union-attr]
            finally:
                self.queue.task_done()


class SinkFanout:
    """Hands each committed change to every sink without waiting for any of them."""

    def __init__(self, sinks: list[AlertSink], *, queue_size: int = 10_000, on_drop: Counter = _no_count,
                 on_error: Counter = _no_count) -> None:
        names = [s.name for s in sinks]
        if len(set(names)) != len(names):
            raise ValueError(f"alert sink names must be unique, got {names}")
        self._workers = [_SinkWorker(s, queue_size, on_drop, on_error) for s in sinks]
        self._started = False

    @property
    def names(self) -> list[str]:
        return [w.sink.name for w in self._workers]

    def start(self) -> None:
        for w in self._workers:
            w.thread.start()
        self._started = True

    def alive(self) -> dict[str, bool]:
        """Each sink thread's liveness, by sink name."""
        return {w.sink.name: w.thread.is_alive() for w in self._workers}

    def probes(self) -> list[tuple[str, Callable[[], bool], Callable[[], None]]]:
        """(sink name, liveness probe, restart) per sink, for the worker registry."""
        return [(w.sink.name, lambda w=w: w.thread.is_alive(), w.restart) for w in self._workers]

    def join(self) -> None:
        """Until every change dispatched so far has been delivered (or failed) by every sink."""
        for w in self._workers:
            w.queue.join()

    def dispatch(self, change: AlertChange) -> None:
        for w in self._workers:
            w.put(change)

    def stop(self, timeout: float = 10.0) -> None:
        """Deliver what is queued, then end the sink threads."""
        if not self._started:
            return
        for w in self._workers:
            try:
                w.queue.put(None, timeout=timeout)
            except queue.Full:  # a sink stuck for the whole timeout: its thread is a daemon and dies with us
                log.warning("alerts.sink_stuck_at_stop", sink=w.sink.name, queued=w.queue.qsize())
        for w in self._workers:
            w.thread.join(timeout)


class MqttAlertSink:
    """Publishes each change on `{prefix}/{kind}` as `{type, before, after}` (Frigate's review message shape)."""

    name = "mqtt"

    def __init__(self, publish: Callable[[str, dict], object], *, topic_prefix: str = "enf/alerts",
                 view: Callable[[dict], dict] = dict) -> None:
        self.publish = publish
        self.topic_prefix = topic_prefix
        self.view = view

    def deliver(self, change: AlertChange) -> None:
        self.publish(f"{self.topic_prefix}/{change.kind}",
                     {"type": change.type, "before": self.view(change.before), "after": self.view(change.after)})
