"""The alert fan-out: every sink gets every change in order, and no sink can hold up another."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from gateway.alerts.sinks import AlertChange, MqttAlertSink, SinkFanout


def change(i: int, type_: str = "new") -> AlertChange:
    row = {"clue_code": f"C-{i}", "kind": "noise", "engine_alert_id": f"e{i}"}
    return AlertChange(type_, "noise", row, row)  # type: ignore[arg-type]


class Recorder:
    def __init__(self, name: str, gate: threading.Event | None = None, fail_on: set[int] | None = None) -> None:
        self.name = name
        self.gate = gate
        self.fail_on = fail_on or set()
        self.got: list[str] = []
        self.done = threading.Event()
        self.expect = 0

    def deliver(self, c: AlertChange) -> None:
        if self.gate is not None:
            self.gate.wait(10)
        n = int(c.after["clue_code"].split("-")[1])
        if n in self.fail_on:
            raise RuntimeError("consumer down")
        self.got.append(c.after["clue_code"])
        if len(self.got) >= self.expect:
            self.done.set()


def test_slow_sink_does_not_delay_the_others() -> None:
    gate = threading.Event()
    slow, fast = Recorder("slow", gate=gate), Recorder("fast")
    fast.expect = 50
    fan = SinkFanout([slow, fast])
    fan.start()
    for i in range(50):
        fan.dispatch(change(i))
    assert fast.done.wait(10), "the fast sink waited for the blocked one"
    assert fast.got == [f"C-{i}" for i in range(50)]
    assert slow.got == []
    slow.expect = 50
    gate.set()
    fan.stop()
    assert slow.got == [f"C-{i}" for i in range(50)]


def test_failing_sink_is_counted_and_keeps_receiving() -> None:
    errors: Counter[str] = Counter()
    bad = Recorder("bad", fail_on={1, 3})
    fan = SinkFanout([bad], on_error=lambda name: errors.update([name]))
    fan.start()
    for i in range(5):
        fan.dispatch(change(i))
    fan.stop()
    assert bad.got == ["C-0", "C-2", "C-4"]
    assert errors == {"bad": 2}


def test_overflow_drops_the_oldest_and_counts() -> None:
    gate = threading.Event()
    drops: Counter[str] = Counter()
    slow = Recorder("slow", gate=gate)
    fan = SinkFanout([slow], queue_size=3, on_drop=lambda name: drops.update([name]))
    fan.start()
    fan.dispatch(change(0))
    waited = threading.Event()
    while fan._workers[0].queue.qsize() and not waited.wait(0.01):  # the thread holds C-0 at the gate
        pass
    for i in range(1, 8):
        fan.dispatch(change(i))
    gate.set()
    fan.stop()
    assert slow.got == ["C-0", "C-5", "C-6", "C-7"]
    assert drops == {"slow": 4}


def test_duplicate_sink_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        SinkFanout([Recorder("a"), Recorder("a")])


def test_mqtt_sink_publishes_frigate_shape_on_kind_topic() -> None:
    sent: list[tuple[str, dict]] = []
    sink = MqttAlertSink(lambda t, p: sent.append((t, p)), topic_prefix="x/alerts",
                         view=lambda row: {k: v for k, v in row.items() if k != "engine_alert_id"})
    sink.deliver(change(7, "end"))
    assert sent == [("x/alerts/noise", {"type": "end", "before": {"clue_code": "C-7", "kind": "noise"},
                                         "after": {"clue_code": "C-7", "kind": "noise"}})]
