"""The stream on a real gateway: the alert service's own changes reach an SSE client, a client resumes across a
gateway restart, and a gateway with clients connected still stops promptly."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import psycopg
import pytest

from testkit.alert_scenes import LEGAL, NOISE, ended, levels, night_base, setup_site
from testkit.api_harness import api_gateway
from testkit.gateway_harness import Publisher, wait_for
from testkit.sse import sse_events

pytestmark = pytest.mark.integration


async def _events(resp: aiohttp.ClientResponse, n: int, timeout: float = 60.0) -> list[dict]:
    return await sse_events(resp, n, timeout)


def _changes(db_url: str) -> list[tuple[int, str]]:
    with psycopg.connect(db_url) as conn:
        return [(r[0], r[1]) for r in conn.execute("SELECT id, type FROM alert_changes ORDER BY id")]


async def test_alert_service_changes_stream_and_resume_across_a_restart(tmp_path: Path, db_url: str,
                                                                        private_mosquitto: str) -> None:
    setup_site(db_url, {**NOISE, **LEGAL})
    stream = levels("noise-cs", "LAeq", night_base(), [(22, 66.0), (30, 40.0)])
    async with api_gateway(tmp_path, db_url, private_mosquitto) as api:
        async with api.request("GET", "/api/alerts/stream", "anonymous-nobody") as refused:
            assert refused.status == 401
        resp = await api.request("GET", "/api/alerts/stream", "operator")
        assert resp.status == 200
        pub = Publisher(private_mosquitto)
        try:
            pub.publish_all(stream[:264])
            (first,) = await _events(resp, 1)
            assert first["event"] == "new" and first["data"]["alert"]["device_id"] == "noise-cs"
            resp.close()
            t = time.monotonic()
        finally:
            pub.close()
    assert time.monotonic() - t < 20  # stopping is not held up by the stream
    async with api_gateway(tmp_path, db_url, private_mosquitto) as api:
        pub = Publisher(private_mosquitto)
        try:
            pub.publish_all(stream[264:])
            await wait_for(lambda: ended(db_url), 60, "the alert ended")
        finally:
            pub.close()
        async with api.request("GET", "/api/alerts/stream", "auditor",
                               headers={"Last-Event-ID": str(first["id"])}) as resp:
            want = [c for c in _changes(db_url) if c[0] > first["id"]]
            rest = await _events(resp, len(want))
        t = time.monotonic()
        live = await api.request("GET", "/api/alerts/stream", "supervisor")  # left open at the stop
        assert live.status == 200
    assert time.monotonic() - t < 20
    assert [(e["id"], e["event"]) for e in rest] == want and want[-1][1] == "end"
    assert rest[-1]["data"]["alert"]["end_time"] is not None
