"""Embedded default: no servers configured -> pgserver PostgreSQL and an amqtt broker under data_dir.
Both start, serve, stop cleanly and come back on the same data."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from gateway.app import Gateway
from gateway.config import Settings
from testkit.gateway_harness import count, register, wait_for
from testkit.services import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _publish_v311(port: int, topic: str, body: dict) -> None:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="emb-pub", protocol=mqtt.MQTTv311)
    c.connect("127.0.0.1", port)
    c.loop_start()
    c.publish(topic, json.dumps(body), qos=1).wait_for_publish(10)
    c.loop_stop()
    c.disconnect()


async def test_embedded_store_and_broker_start_stop_and_keep_data(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(data_dir=tmp_path / "data", mqtt={"embedded_port": port}, api={"listen": "127.0.0.1:0"})
    gw = Gateway(settings)
    await gw.start()
    try:
        assert gw.store.embedded is not None and gw.broker is not None
        assert str(tmp_path / "data") in gw.database_url  # the socket lives under data_dir
        register(gw.database_url, "noise-e")
        await wait_for(gw.source.connected.is_set, 10, "MQTT connection")
        body = {"ts": datetime.now(UTC).isoformat(), "seq": 1, "readings": {"LAeq": 61.5}}
        # the broker runs in this event loop: publish from a thread so the loop can serve it
        await asyncio.to_thread(_publish_v311, port, "enf/sensor/noise-e/reading", body)
        await wait_for(lambda: count(gw.database_url, "SELECT count(*) FROM readings") == 1, what="reading")
    finally:
        await gw.stop()
    # stopped cleanly: the broker port is closed and PostgreSQL removed its pid file
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert not (tmp_path / "data" / "pg" / "postmaster.pid").exists()

    gw2 = Gateway(settings)
    await gw2.start()
    try:
        assert gw2.migration is not None and gw2.migration.applied == []  # same database, already migrated
        assert count(gw2.database_url, "SELECT count(*) FROM readings WHERE device_id = 'noise-e'") == 1
    finally:
        await gw2.stop()
