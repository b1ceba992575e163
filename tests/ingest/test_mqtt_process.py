"""MQTT receipt in a child process (ingest/mqtt_process.py) against a real Mosquitto: what arrives, what an
acknowledgement settles, and what a killed child leaves for the next one."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import uuid

import pytest

from ingest.mqtt import RawMessage
from ingest.mqtt_process import ProcessMqttSource
from testkit.gateway_harness import Publisher, wait_for

pytestmark = pytest.mark.integration


def source(url: str, prefix: str, client_id: str, q: queue.Queue[RawMessage]) -> ProcessMqttSource:
    return ProcessMqttSource(url, [f"{prefix}/#"], q, client_id=client_id, session_expiry_s=60)


async def take(q: queue.Queue[RawMessage], n: int) -> list[RawMessage]:
    return [await asyncio.to_thread(q.get, True, 15) for _ in range(n)]


async def test_messages_arrive_in_order_with_their_bytes_and_acks_settle_them(private_mosquitto: str) -> None:
    prefix, cid = f"t/{uuid.uuid4().hex[:8]}", f"proc-{uuid.uuid4().hex[:8]}"
    q: queue.Queue[RawMessage] = queue.Queue()
    src = source(private_mosquitto, prefix, cid, q)
    src.start()
    pub = Publisher(private_mosquitto)
    try:
        await wait_for(src.connected.is_set, 15, "child connected")
        bodies = [f"m{i}".encode() for i in range(50)] + [b"\x00\xff not json", b""]
        pub.publish_all([(f"{prefix}/r", b) for b in bodies])
        got = await take(q, len(bodies))
        assert [m.payload for m in got] == bodies
        assert {m.topic for m in got} == {f"{prefix}/r"} and {m.qos for m in got} == {1}
        src.ack(got)
        await asyncio.sleep(0.5)  # the acks cross the pipe and reach the broker
    finally:
        src.stop()
    assert not src.connected.is_set()
    # the same session again: everything was acknowledged, so nothing comes back
    q2: queue.Queue[RawMessage] = queue.Queue()
    again = source(private_mosquitto, prefix, cid, q2)
    again.start()
    try:
        await wait_for(again.connected.is_set, 15, "second child connected")
        pub.publish_all([(f"{prefix}/r", b"after")])
        assert [m.payload for m in await take(q2, 1)] == [b"after"]
        await asyncio.sleep(0.5)
        assert q2.empty()
    finally:
        pub.close()
        again.stop()


async def test_a_killed_child_is_seen_respawned_and_its_unacknowledged_messages_come_again(
    private_mosquitto: str,
) -> None:
    prefix, cid = f"t/{uuid.uuid4().hex[:8]}", f"proc-{uuid.uuid4().hex[:8]}"
    q: queue.Queue[RawMessage] = queue.Queue()
    src = source(private_mosquitto, prefix, cid, q)
    src.start()
    pub = Publisher(private_mosquitto)
    try:
        await wait_for(src.connected.is_set, 15, "child connected")
        pub.publish_all([(f"{prefix}/r", f"a{i}".encode()) for i in range(5)])
        first = await take(q, 5)
        src.ack(first[:2])  # two settled before the crash
        await asyncio.sleep(0.5)
        os.kill(src._process.pid, signal.SIGKILL)
        await wait_for(lambda: not src.alive(), 10, "the death to be seen")
        await wait_for(lambda: not src.connected.is_set(), 10, "the connection to be taken as lost")
        assert "exit code -9" in (src.last_error or "")
        src.restart_loop()
        assert src.alive()
        await wait_for(src.connected.is_set, 15, "respawned child connected")
        again = await take(q, 3)
        assert [m.payload for m in again] == [b"a2", b"a3", b"a4"]
        src.ack(first[2:])  # acks of the dead child's messages are dropped, not sent under reused ids
        src.ack(again)
        await asyncio.sleep(0.5)
        assert q.empty() and src.alive()
    finally:
        pub.close()
        src.stop()


def test_a_bad_url_is_refused_in_the_gateway_process_not_in_the_child() -> None:
    with pytest.raises(ValueError, match="unsupported MQTT URL scheme"):
        ProcessMqttSource("http://x", ["a/#"], queue.Queue(), client_id="c")
