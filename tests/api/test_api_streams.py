"""A gateway reading a video stream, as operations see it: the stream goes live, its state and counts show in
GET /api/streams, in the stored status `enforcegw streams list` reads and in /healthz; its newest frame is a JPEG
for those allowed to see it; a stream whose camera is unreachable shows `connecting`/`failed` with the reason and
leaves the gateway healthy; on stop the stored state says stopped."""

from __future__ import annotations

import cv2
import numpy as np
import psycopg
import pytest

from gateway.video.status_store import read_statuses
from testkit.api_harness import api_gateway
from testkit.gateway_harness import wait_for
from testkit.stream_servers import MjpegServer, free_port
from testkit.video_media import frame_number, jpeg_frames

pytestmark = pytest.mark.integration


def _states(db_url: str) -> dict[str, str]:
    with psycopg.connect(db_url) as conn:
        return {r["stream_id"]: r["state"] for r in read_statuses(conn)}


async def _streams(api, who: str = "operator") -> dict[str, dict]:
    async with api.request("GET", "/api/streams", who) as r:
        assert r.status == 200
        return {s["id"]: s for s in (await r.json())["streams"]}


async def test_a_stream_goes_live_shows_everywhere_and_stops(tmp_path, db_url, mqtt_url) -> None:
    dead = f"http://127.0.0.1:{free_port()}/nothing.mjpg"
    with MjpegServer(jpeg_frames(10), fps=20) as cam:
        video = {"streams": [
            {"id": "gate", "url": cam.url, "device_id": "cam-gate", "fps": 5},
            {"id": "unplugged", "url": dead, "device_id": "cam-x", "open_timeout_s": 1},
            {"id": "spare", "url": dead, "device_id": "cam-y", "enabled": False},
        ], "reconnect": {"initial_s": 0.2, "max_s": 0.5, "failed_after": 2}}
        async with api_gateway(tmp_path, db_url, mqtt_url, video=video) as api:
            async def live() -> bool:
                s = await _streams(api)
                return s["gate"]["state"] == "live" and (s["gate"]["frames_kept"] or 0) >= 5
            await wait_for(live, 20, "stream live with frames")
            s = await _streams(api, "auditor")
            assert s["unplugged"]["state"] in {"connecting", "failed"} and s["unplugged"]["last_error"]
            assert s["spare"]["state"] == "disabled"
            assert s["gate"]["url"] == cam.url and s["gate"]["time_source"] == "arrival"
            await wait_for(lambda: _states(db_url).get("gate") == "live", 10, "status stored")
            async with api.request("GET", "/api/streams/gate/snapshot", "operator") as r:
                assert r.status == 200 and r.content_type == "image/jpeg"
                image = cv2.imdecode(np.frombuffer(await r.read(), np.uint8), cv2.IMREAD_COLOR)
                assert image.shape[:2] == (240, 320) and 0 <= frame_number(image) < 10
                assert r.headers["X-Frame-Time-Source"] == "arrival"
            async with api.request("GET", "/api/streams/gate/snapshot", "auditor") as r:
                assert r.status == 403
            async with api.request("GET", "/api/streams/spare/snapshot", "operator") as r:
                assert r.status == 404 and (await r.json())["error"]["code"] == "not_found"
            async with api.request("GET", "/api/streams", None) as r:
                assert r.status == 401
            async with api.session.get(api.base + "/healthz") as r:
                health = await r.json()
            assert r.status == 200, health
            assert "live: gate" in str(health) and "unplugged" in str(health)
            async with api.session.get(api.base + "/metrics") as r:
                text = await r.text()
            assert 'enforcegw_stream_state{state="live",stream="gate"} 1.0' in text
    assert _states(db_url)["gate"] == "stopped"
