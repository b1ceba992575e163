"""The console API mounts on the gateway's own HTTP server: a mount gets the aiohttp app and the running
gateway, and its routes are served beside /healthz and /metrics. A mount that fails stops the start."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

import pytest
from aiohttp import web

from gateway.app import Gateway
from testkit.gateway_harness import gateway_settings, wait_for

pytestmark = pytest.mark.integration


def get(port: int, path: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return r.status, r.read()


async def test_mounted_routes_see_the_running_gateway(tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    def mount(app: web.Application, gw: Gateway) -> None:
        async def origin(_req: web.Request) -> web.Response:
            assert gw.evidence is not None
            return web.json_response({"origin": gw.evidence.config.origin, "workers": sorted(gw.workers.statuses())})

        app.router.add_get("/api/test/origin", origin)

    gw = Gateway(gateway_settings(tmp_path, db_url, mqtt_url), http_mounts=[mount])
    await gw.start()
    try:
        await wait_for(gw.source.connected.is_set, 10, "MQTT connection")
        assert gw.http is not None
        status, body = await asyncio.to_thread(get, gw.http.port, "/api/test/origin")
        health, _ = await asyncio.to_thread(get, gw.http.port, "/healthz")
    finally:
        await gw.stop()
    data = json.loads(body)
    assert status == 200 and health == 200
    assert data["origin"] == gw.settings.evidence.origin and "alerts" in data["workers"]


async def test_a_failing_mount_stops_the_start(tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    def broken(_app: web.Application, _gw: Gateway) -> None:
        raise RuntimeError("route table refused")

    gw = Gateway(gateway_settings(tmp_path, db_url, mqtt_url), http_mounts=[broken])
    try:
        with pytest.raises(RuntimeError, match="route table refused"):
            await gw.start()
    finally:
        await gw.stop()
