"""Two gateways share the MQTT load (MQTT v5 shared subscription) and store each reading once; `enforcegw run`
stops on SIGTERM without losing what it had received."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.gateway_harness import Publisher, count, gateway_settings, register, started, stream, wait_for
from testkit.paths import REPO
from testkit.services import free_port

pytestmark = pytest.mark.integration


async def test_shared_subscription_splits_load_and_stores_once(
    tmp_path: Path, db_url: str, private_mosquitto: str
) -> None:
    register(db_url, "noise-s1", "noise-s2")
    base = gateway_settings(tmp_path, db_url, private_mosquitto)
    settings = [base.model_copy(update={"mqtt": base.mqtt.model_copy(update={"shared_group": "gw",
                                                                             "client_id": f"gw-share-{i}"})})
                for i in range(2)]
    gws = [await started(s) for s in settings]
    pub = Publisher(private_mosquitto)
    try:
        pub.publish_all(stream("noise-s1", 1000) + stream("noise-s2", 1000))
        await wait_for(lambda: count(db_url, "SELECT count(*) FROM readings") >= 2000, 60, "2000 readings")
        await asyncio.sleep(0.3)
        assert count(db_url, "SELECT count(*) FROM readings") == 2000
        shares = [int(g.metrics.readings_stored._value.get()) for g in gws]
        assert sum(shares) == 2000 and min(shares) > 0, f"load not split: {shares}"
    finally:
        pub.close()
        for g in gws:
            await g.stop()


def _run_gateway(tmp_path: Path, db_url: str, mqtt_url: str, http: int) -> subprocess.Popen:
    env = {**os.environ, "ENFORCEGW_DATABASE__URL": db_url, "ENFORCEGW_MQTT__URL": mqtt_url,
           "ENFORCEGW_MQTT__CLIENT_ID": "gw-sigterm", "ENFORCEGW_API__LISTEN": f"127.0.0.1:{http}",
           "ENFORCEGW_DATA_DIR": str(tmp_path), "ENFORCEGW_LOG__LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "gateway.cli", "run"], env=env, cwd=REPO)


async def test_sigterm_mid_stream_then_restart_stores_everything_once(
    tmp_path: Path, db_url: str, private_mosquitto: str
) -> None:
    import urllib.request

    register(db_url, "noise-t")
    http = free_port()

    def up() -> bool:
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=1).status == 200
        except OSError:
            return False

    proc = _run_gateway(tmp_path, db_url, private_mosquitto, http)
    pub = Publisher(private_mosquitto)
    try:
        await wait_for(up, 60, "gateway healthy")
        msgs = stream("noise-t", 3000)
        publishing = asyncio.create_task(asyncio.to_thread(pub.publish_all, msgs))
        await wait_for(lambda: count(db_url, "SELECT count(*) FROM readings") >= 300, 30, "first readings")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 60) == 0, "SIGTERM is a clean stop"
        stored_at_stop = count(db_url, "SELECT count(*) FROM readings")
        await publishing
        proc = _run_gateway(tmp_path, db_url, private_mosquitto, http)  # same client id: same session
        await wait_for(lambda: count(db_url, "SELECT count(*) FROM readings") >= 3000, 60, "all readings")
        await asyncio.sleep(0.3)
        assert stored_at_stop < 3000
        assert count(db_url, "SELECT count(*) FROM readings") == 3000
        assert count(db_url, "SELECT count(DISTINCT seq) FROM readings") == 3000
    finally:
        pub.close()
        proc.terminate()
        proc.wait(60)


