"""Streams that need something upstream before they can be read, through a running gateway:

- via ZLMediaKit: the gateway asks the media server to proxy the camera (addStreamProxy, source URL intact), reads
  the media server's RTSP re-stream (GStreamer's RTSP server at the path ZLMediaKit would serve), goes live, and
  deletes the proxy by its key on stop; a media server that is down shows as the stream's state and reason;
- a DJI dock: the gateway sends live_start_push with the documented video_id and quality over the real broker, the
  dock's services_reply (matched by tid) lets the stream be read, a non-zero result is a named failure the stream
  shows, and live_stop_push goes out on stop."""

from __future__ import annotations

import json
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest

from testkit.api_harness import api_gateway
from testkit.gateway_harness import wait_for
from testkit.stream_servers import MjpegServer, RtspServer, free_port, rtsp_server_missing
from testkit.video_media import jpeg_frames, make_h264
from testkit.zlm_standin import ZlmStandin

pytestmark = pytest.mark.integration
SECRET = "zlm-secret-035c73f7"


async def _stream(api, stream_id: str) -> dict:
    async with api.request("GET", "/api/streams", "admin") as r:
        assert r.status == 200
        return {s["id"]: s for s in (await r.json())["streams"]}[stream_id]


async def test_a_camera_through_zlmediakit_is_proxied_read_and_released(tmp_path, db_url, mqtt_url) -> None:
    if (why := rtsp_server_missing()) is not None:
        pytest.skip(why)
    clip = make_h264(tmp_path / "cam.mp4", seconds=60, fps=25)
    source = "rtsp://admin:pw@10.20.30.40:554/Streaming/Channels/101?transportmode=unicast&profile=Profile_1"
    with ZlmStandin(secret=SECRET) as zlm, RtspServer(clip, mount="/enforcegw/gb-1") as media:
        video = {"zlmediakit": {"base_url": zlm.base_url, "secret": SECRET, "app": "enforcegw",
                                "rtsp_url": f"rtsp://127.0.0.1:{media.port}"},
                 "streams": [{"id": "gb-1", "url": source, "device_id": "cam-gb-1", "via_zlmediakit": True}]}
        async with api_gateway(tmp_path, db_url, mqtt_url, video=video) as api:
            async def live() -> bool:
                return (await _stream(api, "gb-1"))["state"] == "live"
            await wait_for(live, 30, "the re-stream live")
            (added,) = zlm.calls("addStreamProxy")
            assert added["url"] == source and added["app"] == "enforcegw" and added["stream"] == "gb-1"
            s = await _stream(api, "gb-1")
            assert s["detail"]["zlmediakit_key"] == "__defaultVhost__/enforcegw/gb-1"
            assert s["detail"]["read_url"] == f"rtsp://127.0.0.1:{media.port}/enforcegw/gb-1"
            assert "pw@" not in json.dumps(s)
        assert [c["key"] for c in zlm.calls("delStreamProxy")] == ["__defaultVhost__/enforcegw/gb-1"]


async def test_a_media_server_that_is_down_is_the_streams_state(tmp_path, db_url, mqtt_url) -> None:
    video = {"zlmediakit": {"base_url": f"http://127.0.0.1:{free_port()}", "timeout_s": 1},
             "reconnect": {"initial_s": 0.2, "max_s": 0.5, "failed_after": 2},
             "streams": [{"id": "gb-2", "url": "rtsp://10.0.0.9/1", "device_id": "cam-gb-2", "via_zlmediakit": True}]}
    async with api_gateway(tmp_path, db_url, mqtt_url, video=video) as api:
        async def failed() -> bool:
            return (await _stream(api, "gb-2"))["state"] == "failed"
        await wait_for(failed, 20, "failed after two attempts")
        s = await _stream(api, "gb-2")
        assert "addStreamProxy" in s["last_error"]
        async with api.session.get(api.base + "/healthz") as r:
            assert r.status == 200  # a camera that cannot be reached is not a gateway to restart


class Dock:
    """A DJI dock on the real broker: answers each live command with the result it is told to give."""

    def __init__(self, mqtt_url: str, gateway_sn: str, results: dict[str, int | None]) -> None:
        host, port = mqtt_url.removeprefix("mqtt://").rsplit(":", 1)
        self.gateway_sn, self.results = gateway_sn, results
        self.requests: list[dict] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"dock-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = lambda c, *_: c.subscribe(f"thing/product/{gateway_sn}/services", qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(host, int(port))
        self.client.loop_start()

    def _on_message(self, client, _userdata, msg) -> None:
        req = json.loads(msg.payload)
        self.requests.append(req)
        result = self.results.get(req["method"])
        if result is None:
            return
        client.publish(f"thing/product/{self.gateway_sn}/services_reply", json.dumps(
            {"tid": req["tid"], "bid": req["bid"], "timestamp": req["timestamp"], "method": req["method"],
             "data": {"result": result}}), qos=1)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.mark.parametrize(("start_result", "state"), [(0, "live"), (514301, "failed")])
async def test_a_dock_is_told_to_push_then_read(tmp_path, db_url, mqtt_url, start_result: int, state: str) -> None:
    gw_sn = f"4TADK{uuid.uuid4().hex[:9].upper()}"
    dock = Dock(mqtt_url, gw_sn, {"live_start_push": start_result, "live_stop_push": 0})
    assert dock.subscribed.wait(10)
    live = {"gateway_sn": gw_sn, "sn": "1581F5BKD22DEMO0001", "camera_index": "39-0-7", "url_type": "rtmp",
            "url": "rtmp://10.1.9.9/live/dock1", "quality": 3, "reply_timeout_s": 5}
    try:
        with MjpegServer(jpeg_frames(5), fps=20) as cam:
            video = {"reconnect": {"initial_s": 0.2, "max_s": 0.5, "failed_after": 2},
                     "streams": [{"id": "dock-1", "url": cam.url, "device_id": "drone-1", "camera": "drone",
                                  "live": live}]}
            async with api_gateway(tmp_path, db_url, mqtt_url, video=video) as api:
                async def reached() -> bool:
                    return (await _stream(api, "dock-1"))["state"] == state
                await wait_for(reached, 30, f"stream {state}")
                s = await _stream(api, "dock-1")
                first = dock.requests[0]
                assert first["method"] == "live_start_push"
                assert first["data"] == {"url_type": 1, "url": live["url"], "video_quality": 3,
                                         "video_id": "1581F5BKD22DEMO0001/39-0-7/normal-0"}
                if start_result == 0:
                    assert s["detail"]["dji_live"]["result"] == 0
                else:
                    assert "514301" in s["last_error"]
                    assert all(r["method"] == "live_start_push" for r in dock.requests)  # retried, never read
            methods = [r["method"] for r in dock.requests]
            assert ("live_stop_push" in methods) == (start_result == 0)
    finally:
        dock.close()
