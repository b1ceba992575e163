"""Worker liveness: a dead worker turns /healthz red naming it, shows in the metrics, is restarted with
back-off, and one that keeps dying stops the gateway with exit code 70. Failures are injected through real
code paths: a thread target that raises, the writer's acknowledgement hook, a paho callback, a NOTIFY callback."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import threading
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from gateway.app import Gateway
from gateway.metrics import Metrics
from gateway.pg_notify import NotifyListener
from gateway.workers import EXIT_WORKER_FAILED, RestartPolicy, ThreadWorker, WorkerRegistry
from ingest.mqtt import MqttSource, RawMessage
from ingest.mqtt_process import ProcessMqttSource
from testkit.gateway_harness import Publisher, count, gateway_settings, reading, register, started, wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sample(metrics: Metrics, name: str, worker: str) -> float:
    value = metrics.registry.get_sample_value(name, {"worker": worker})
    return 0.0 if value is None else value


class Crashing:
    """A thread target that raises on its first `crashes` runs, then runs until told to stop."""

    def __init__(self, crashes: int) -> None:
        self.crashes = crashes
        self.runs = 0
        self.stop = threading.Event()

    def __call__(self) -> None:
        self.runs += 1
        if self.runs <= self.crashes:
            raise RuntimeError(f"crash {self.runs}")
        self.stop.wait()


def supervised(crashes: int, policy: RestartPolicy) -> tuple[WorkerRegistry, ThreadWorker, Crashing, Clock,
                                                                list[tuple[str, str]]]:
    clock, fatal = Clock(), []
    reg = WorkerRegistry(Metrics(), policy, on_fatal=lambda w, e: fatal.append((w, e)), clock=clock)
    target = Crashing(crashes)
    worker = ThreadWorker("w", target, stopping=target.stop.is_set, registry=reg)
    return reg, worker, target, clock, fatal


def settle(worker: ThreadWorker) -> None:
    """Let a crashing run end (a run that does not crash keeps going, so only wait briefly for it)."""
    worker.join(0.5)


@pytest.mark.parametrize(("max_restarts", "crashes", "restarts", "fatal_after"), [
    (0, 1, 0, True),     # never restarted: the first death is fatal
    (2, 1, 1, False),    # restarted once, then runs
    (2, 2, 2, False),    # restarted twice, then runs
    (2, 3, 2, True),     # a third death inside the window: beyond restarting
])
def test_thread_worker_restarts_with_backoff_then_gives_up(
    max_restarts: int, crashes: int, restarts: int, fatal_after: bool
) -> None:
    policy = RestartPolicy(max_restarts=max_restarts, window_s=600, backoff_s=1.0, backoff_max_s=30)
    reg, worker, target, clock, fatal = supervised(crashes, policy)
    metrics = reg.metrics
    assert metrics is not None
    worker.start()
    try:
        for i in range(crashes):
            settle(worker)
            reg.check()
            status = reg.statuses()["w"]
            assert not status.alive and status.last_error == f"RuntimeError: crash {i + 1}"
            assert sample(metrics, "enforcegw_worker_up", "w") == 0
            assert sample(metrics, "enforcegw_worker_failures_total", "w") == i + 1
            if status.state == "failed":
                break
            assert status.state == "down"
            clock.now += policy.delay(i) - 0.01
            reg.check()
            assert reg.statuses()["w"].state == "down"  # the back-off is not over yet
            clock.now += 0.02
            reg.check()
            assert reg.statuses()["w"].alive
            assert sample(metrics, "enforcegw_worker_up", "w") == 1
        settle(worker)
        reg.check()
        status = reg.statuses()["w"]
        assert status.restarts == restarts == sample(metrics, "enforcegw_worker_restarts_total", "w")
        assert (status.state == "failed") is fatal_after
        assert fatal == ([("w", f"RuntimeError: crash {crashes}")] if fatal_after else [])
        assert (reg.fatal is not None) is fatal_after
    finally:
        target.stop.set()
        worker.join(5)


def test_backoff_doubles_and_restarts_age_out_of_the_window() -> None:
    policy = RestartPolicy(max_restarts=2, window_s=100, backoff_s=1.0, backoff_max_s=3.0)
    assert [policy.delay(n) for n in range(4)] == [1.0, 2.0, 3.0, 3.0]
    reg, worker, target, clock, fatal = supervised(5, policy)
    worker.start()
    try:
        for _ in range(4):  # each restart has left the window when the next death comes: never fatal
            settle(worker)
            reg.check()
            assert reg.statuses()["w"].state == "down"
            clock.now += 120
            reg.check()
        assert reg.statuses()["w"].restarts == 4 and not fatal
    finally:
        target.stop.set()
        worker.join(5)


def test_a_worker_that_returns_unasked_is_dead_and_a_requested_stop_is_not() -> None:
    reg = WorkerRegistry(Metrics(), RestartPolicy(max_restarts=0), clock=Clock())
    stop = threading.Event()
    quits = ThreadWorker("quits", lambda: None, stopping=stop.is_set, registry=reg)
    quits.start()
    quits.join(5)
    reg.check()
    assert reg.statuses()["quits"].state == "failed"
    assert reg.statuses()["quits"].last_error == "returned without being asked to stop"

    reg2 = WorkerRegistry(Metrics(), RestartPolicy(max_restarts=0), clock=Clock())
    stopped = ThreadWorker("stopped", stop.wait, stopping=stop.is_set, registry=reg2)
    stopped.start()
    stop.set()
    stopped.join(5)
    assert not stopped.alive()
    assert stopped.error is None


def test_stalled_worker_is_reported_until_it_beats_again() -> None:
    clock = Clock()
    reg = WorkerRegistry(Metrics(), clock=clock)
    stop = threading.Event()
    worker = ThreadWorker("slow", stop.wait, stopping=stop.is_set, registry=reg, stall_after_s=60)
    worker.start()
    try:
        clock.now += 59
        reg.check()
        assert reg.statuses()["slow"].alive
        clock.now += 2
        reg.check()
        status = reg.statuses()["slow"]
        assert status.state == "stalled" and status.last_error == "no heartbeat for 61 s"
        assert sample(reg.metrics, "enforcegw_worker_up", "slow") == 0  # type: ignore[arg-type]
        worker.beat()
        reg.check()
        assert reg.statuses()["slow"].alive and reg.statuses()["slow"].restarts == 0
    finally:
        stop.set()
        worker.join(5)


def test_a_worker_name_is_registered_once() -> None:
    reg = WorkerRegistry()
    reg.watch("x", lambda: True)
    with pytest.raises(ValueError, match="already registered"):
        reg.watch("x", lambda: True)


# --- the real workers ------------------------------------------------------------------------------------
class FlakySource(MqttSource):
    """Our paho callback raising once: paho's network thread dies with it."""

    failed = False

    def _handle_message(self, c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        if msg.topic.endswith("/boom") and not self.failed:
            self.failed = True
            raise RuntimeError("on_message failed")
        super()._handle_message(c, u, msg)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the death is the point
async def test_mqtt_source_network_thread_death_is_seen_and_restarted(mqtt_url: str) -> None:
    clock = Clock()
    reg = WorkerRegistry(Metrics(), RestartPolicy(backoff_s=1.0), clock=clock)
    prefix = f"t/{uuid.uuid4().hex[:8]}"
    q: queue.Queue[RawMessage] = queue.Queue()
    source = FlakySource(mqtt_url, [f"{prefix}/#"], q, client_id=f"flaky-{uuid.uuid4().hex[:8]}",
                         session_expiry_s=60)
    reg.watch("mqtt-source", source.alive, restart=source.restart_loop, error=lambda: source.last_error)
    source.start()
    pub = Publisher(mqtt_url)
    try:
        await wait_for(source.connected.is_set, 10, "MQTT connection")
        pub.publish_all([(f"{prefix}/boom", b"x")])
        await wait_for(lambda: not source.alive(), 10, "paho thread to die")
        reg.check()
        status = reg.statuses()["mqtt-source"]
        assert status.state == "down" and status.last_error == "RuntimeError: on_message failed"
        clock.now += 1.0
        reg.check()
        assert reg.statuses()["mqtt-source"].alive and source.alive()
        pub.publish_all([(f"{prefix}/fine", b"y")])
        # paho hands the packet it was handling over again: the message that killed the thread is not lost
        topics = [(await asyncio.to_thread(q.get, True, 10)).topic for _ in range(2)]
        assert topics == [f"{prefix}/boom", f"{prefix}/fine"]
    finally:
        pub.close()
        source.stop()


async def test_notify_listener_death_is_seen_and_restarted(db_url: str) -> None:
    calls: list[int] = []

    async def callback() -> None:
        calls.append(1)
        if len(calls) == 1:  # called once per (re)connect: the first run dies
            raise ValueError("zone reload failed")

    clock = Clock()
    reg = WorkerRegistry(Metrics(), RestartPolicy(backoff_s=1.0), clock=clock)
    listener = NotifyListener(db_url, {"enforcegw_test": callback})
    listener.start()
    reg.watch("pg-notify", listener.alive, restart=listener.start, error=listener.last_error)
    try:
        await wait_for(lambda: not listener.alive(), 10, "listener task to die")
        reg.check()
        assert reg.statuses()["pg-notify"].last_error == "ValueError: zone reload failed"
        clock.now += 1.0
        reg.check()
        await wait_for(lambda: len(calls) == 2, 10, "the restarted listener to connect")
        reg.check()
        assert listener.alive() and reg.statuses()["pg-notify"].restarts == 1
    finally:
        await listener.stop()


# --- the gateway ------------------------------------------------------------------------------------------
def _now() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=5)


def http_get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def health(gw: Gateway) -> tuple[int, dict]:
    assert gw.http is not None
    status, body = http_get(gw.http.port, "/healthz")
    return status, json.loads(body)


def poison_ack(gw: Gateway, device: str) -> None:
    """The writer's acknowledgement hook raises for batches holding `device`: the writer thread dies after the
    commit, with the messages unacknowledged, as it would on any bug in its loop."""
    assert gw.writer is not None
    real_ack = gw.writer.ack

    def ack(messages: list[RawMessage]) -> None:
        if any(f"/{device}/" in m.topic for m in messages):
            raise RuntimeError(f"ack hook failed for {device}")
        real_ack(messages)

    gw.writer.ack = ack


async def test_dead_ingest_writer_turns_health_red_naming_it(tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    register(db_url, "boom-1")
    settings = gateway_settings(tmp_path, db_url, mqtt_url)
    gw = Gateway(settings, restart_policy=RestartPolicy(backoff_s=3600))  # stays down for the test
    await gw.start()
    pub = Publisher(mqtt_url)
    try:
        await wait_for(gw.source.connected.is_set, 10, "MQTT connection")  # type: ignore[union-attr]
        status, body = await asyncio.to_thread(health, gw)
        assert status == 200 and body["workers"]["ingest-writer"]["alive"] is True
        assert set(body["workers"]) >= {"ingest-writer", "alerts", "evidence-sequencer", "mqtt-source",
                                        "pg-notify", "publisher"}
        poison_ack(gw, "boom-1")
        pub.publish_all([reading("boom-1", 1, _now(), LAeq=50.0)])
        await wait_for(lambda: health(gw)[0] == 503, 20, "health to turn red")
        status, body = await asyncio.to_thread(health, gw)
        assert body["status"] == "degraded" and body["checks"]["workers"]["ok"] is False
        writer = body["workers"]["ingest-writer"]
        assert writer["alive"] is False and writer["state"] == "down"
        assert writer["last_error"] == "RuntimeError: ack hook failed for boom-1"
        assert "ingest-writer down: RuntimeError: ack hook failed for boom-1" in body["checks"]["workers"]["detail"]
        assert all(w["alive"] for name, w in body["workers"].items() if name != "ingest-writer")
        _, text = await asyncio.to_thread(http_get, gw.http.port, "/metrics")  # type: ignore[union-attr]
        assert b'enforcegw_worker_up{worker="ingest-writer"} 0.0' in text
        assert b'enforcegw_worker_failures_total{worker="ingest-writer"} 1.0' in text
        assert b'enforcegw_worker_up{worker="alerts"} 1.0' in text
        assert gw.exit_code == 0 and not gw.failed.is_set()  # a restart is due, not an exit
    finally:
        pub.close()
        await gw.stop()


async def test_writer_is_restarted_then_the_gateway_exits_70(tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    register(db_url, "boom-2", "ok-2")
    settings = gateway_settings(tmp_path, db_url, mqtt_url)
    gw = Gateway(settings, restart_policy=RestartPolicy(max_restarts=1, backoff_s=0.05))
    run = asyncio.create_task(gw.run_until_signal())
    pub = Publisher(mqtt_url)
    loop = asyncio.get_running_loop()
    try:
        await wait_for(lambda: gw.http is not None and gw.source is not None and gw.source.connected.is_set(),
                       30, "gateway running")
        poison_ack(gw, "boom-2")
        t = _now()
        pub.publish_all([reading("boom-2", 1, t, LAeq=50.0)])
        await wait_for(lambda: gw.workers.statuses()["ingest-writer"].restarts == 1
                       and gw.workers.statuses()["ingest-writer"].alive, 20, "the writer restarted")
        status, body = await asyncio.to_thread(health, gw)
        assert status == 200 and body["workers"]["ingest-writer"]["restarts"] == 1
        assert body["workers"]["ingest-writer"]["last_error"] == "RuntimeError: ack hook failed for boom-2"
        pub.publish_all([reading("ok-2", 1, t, LAeq=51.0)])
        await wait_for(lambda: count(db_url, "SELECT count(*) FROM readings WHERE device_id = 'ok-2'") == 1, 20,
                       "a reading stored by the restarted writer")
        assert not run.done()
        pub.publish_all([reading("boom-2", 2, t, LAeq=52.0)])  # dies again: beyond the policy
        code = await asyncio.wait_for(run, 60)
        assert code == EXIT_WORKER_FAILED == gw.exit_code == 70
        m = gw.metrics
        assert sample(m, "enforcegw_worker_failures_total", "ingest-writer") == 2
        assert sample(m, "enforcegw_worker_restarts_total", "ingest-writer") == 1
        assert gw.workers.statuses()["ingest-writer"].state == "failed"
    finally:
        pub.close()
        if not run.done():  # the test failed early: end the run the way a fatal worker would
            gw.failed.set()
            await asyncio.wait_for(run, 60)
        for sig in (signal.SIGINT, signal.SIGTERM):  # run_until_signal installed them on this test's loop
            loop.remove_signal_handler(sig)


async def test_started_gateway_health_lists_every_worker(tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    gw = await started(gateway_settings(tmp_path, db_url, mqtt_url))
    try:
        await asyncio.sleep(0)  # one supervision pass has run by the first health probe
        status, body = await asyncio.to_thread(health, gw)
        assert status == 200 and body["status"] == "ok"
        assert body["checks"]["workers"] == {"ok": True, "detail": f"{len(body['workers'])} running"}
        assert all(w["state"] == "running" and w["failures"] == 0 for w in body["workers"].values())
    finally:
        await gw.stop()


async def test_killed_mqtt_receive_process_turns_health_red_and_is_respawned(
    tmp_path: Path, db_url: str, mqtt_url: str
) -> None:
    register(db_url, "proc-1")
    settings = gateway_settings(tmp_path, db_url, mqtt_url, mqtt={"receive_process": True})
    gw = Gateway(settings, restart_policy=RestartPolicy(backoff_s=4.0))
    await gw.start()
    pub = Publisher(mqtt_url)
    try:
        source = gw.source
        assert isinstance(source, ProcessMqttSource)
        await wait_for(source.connected.is_set, 15, "MQTT connection")
        t = _now()
        pub.publish_all([reading("proc-1", 1, t, LAeq=50.0)])
        await wait_for(lambda: count(db_url, "SELECT count(*) FROM readings WHERE device_id = 'proc-1'") == 1, 20,
                       "the first reading")
        os.kill(source._process.pid, signal.SIGKILL)
        seen: list[dict] = []

        def red() -> bool:
            status, body = health(gw)
            seen.append(body)
            return status == 503 and body["workers"]["mqtt-source"]["state"] == "down"

        await wait_for(red, 20, "health to turn red naming the receive process")
        body = seen[-1]
        assert body["workers"]["mqtt-source"]["alive"] is False and body["checks"]["mqtt"]["ok"] is False
        assert "exit code -9" in body["workers"]["mqtt-source"]["last_error"]
        await wait_for(lambda: health(gw)[0] == 200, 30, "the respawned child to connect")
        assert gw.workers.statuses()["mqtt-source"].restarts == 1
        pub.publish_all([reading("proc-1", 2, t + timedelta(seconds=1), LAeq=51.0)])
        await wait_for(lambda: count(db_url, "SELECT count(*) FROM readings WHERE device_id = 'proc-1'") == 2, 20,
                       "a reading through the new child")
    finally:
        pub.close()
        await gw.stop()
