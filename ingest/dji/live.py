"""DJI Cloud API live video: tell a dock to push a camera's stream (`live_start_push`) and to stop
(`live_stop_push`), and wait for the dock's answer.

The command goes to `thing/product/{gateway_sn}/services` at QoS 1:

    {"tid": uuid4, "bid": uuid4, "timestamp": ms, "method": "live_start_push",
     "data": {"url_type": 1, "url": "rtmp://...", "video_id": "{sn}/{camera_index}/{video_index}",
              "video_quality": 0}}

and the dock answers on `thing/product/{gateway_sn}/services_reply` with the same `tid` and `method` and
`data.result` (0 success). Replies to other commands (another tid, or the same tid naming another method) are
ignored, so several streams, and other cloud services talking to the same dock, share the topic. A message that
is not a JSON object with a string tid cannot be matched and is dropped; one that matches our tid but carries no
integer `data.result` fails that command as `bad_reply` rather than leaving it to time out.

`url_type` numbers: 1 RTMP, 2 RTSP, 3 GB28181 (0 Agora, 4 WebRTC/WHIP are not configurable here). DJI's Dock 2
and Dock 3 pages list 0, 1, 3, 4 only; 2 is RTSP in DJI's own demo (LiveUrlTypeEnum in dji-sdk/DJI-Cloud-API-Demo).

The controller has its own paho client (commands must not queue behind the ingest session's acknowledgements)
and subscribes to each dock's services_reply the first time it commands that dock, waiting for the SUBACK before
publishing so the answer cannot slip past. It is thread-safe: each stream's setup thread calls it directly.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
import structlog

from ingest.decode import DEVICE_ID_RE, decode_json
from ingest.models import PayloadError
from ingest.mqtt import BrokerAddress, paho_loop_running
from ingest.video.config import DjiLiveConfig

__all__ = ["LIVE_RESULT_CODES", "URL_TYPES", "DjiLiveController", "DjiLiveError", "LiveResult", "video_id"]

log = structlog.get_logger(__name__)

URL_TYPES: dict[str, int] = {"rtmp": 1, "rtsp": 2, "gb28181": 3}

# Result codes of the live methods, from DJI's error code page
# (developer.dji.com/doc/cloud-api-tutorial/cn/error-code.html, read in the mirror huneng-dev/dji-cloud-api-docs,
# output/error-code.md @992b311); the English is ours.
LIVE_RESULT_CODES: dict[int, str] = {
    513002: "camera does not exist or is of the wrong type",
    513003: "camera is already live streaming",
    513005: "wrong live quality parameter",
    513006: "live start failed, retry",
    513008: "image transmission data abnormal on the device",
    513010: "device cannot reach the network",
    513011: "device is not live streaming",
    513012: "device is live streaming, the lens cannot be switched",
    513013: "video transport protocol not supported",
    513014: "live parameters wrong or incomplete",
    513015: "network congested, retry",
    513016: "video decoding failed",
    513017: "live paused until the aircraft's media download finishes",
    513099: "live failed, retry later",
    514300: "gateway error",
    514301: "request timed out, connection lost",
    514302: "network certificate error, connection failed",
    514303: "network error, connection lost",
}
# Results that leave the camera in the state asked for: starting a push that already runs, stopping one that does
# not. The dock does not say where an existing push goes; LiveResult.note says it was already running.
_ALREADY: dict[str, int] = {"live_start_push": 513003, "live_stop_push": 513011}
_MAX_REPLY_BYTES = 64 * 1024


def video_id(cfg: DjiLiveConfig) -> str:
    return f"{cfg.sn}/{cfg.camera_index}/{cfg.video_index}"


def describe_result(code: int) -> str:
    return LIVE_RESULT_CODES.get(code, "unknown result code")


class DjiLiveError(Exception):
    """A live command that did not succeed. `reason`: `result` (the dock answered a non-zero result, in
    `result`), `timeout` (no services_reply in time), `not_connected` (broker unreachable in time), `bad_reply`
    (our tid answered without an integer data.result), `bad_config`, `closed`."""

    def __init__(self, method: str, gateway_sn: str, vid: str, reason: str, message: str,
                 result: int | None = None) -> None:
        self.method = method
        self.gateway_sn = gateway_sn
        self.video_id = vid
        self.reason = reason
        self.result = result
        super().__init__(f"{method} {vid} via dock {gateway_sn}: {message}")


@dataclass(frozen=True, slots=True)
class LiveResult:
    method: str
    gateway_sn: str
    video_id: str
    tid: str
    result: int  # 0, or the code meaning the camera was already in the state asked for
    note: str = ""
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "gateway_sn": self.gateway_sn, "video_id": self.video_id, "tid": self.tid,
                "result": self.result, "note": self.note, "elapsed_s": round(self.elapsed_s, 3)}


class _Waiter:
    __slots__ = ("done", "method", "reply")

    def __init__(self, method: str) -> None:
        self.method = method
        self.done = threading.Event()
        self.reply: Any = None  # the matched envelope's data, or a str saying why the controller gave up


class DjiLiveController:
    def __init__(self, mqtt_url: str, *, client_id: str, protocol: str = "5") -> None:
        self._addr = BrokerAddress.parse(mqtt_url)
        proto = mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"{client_id}-live-{uuid.uuid4().hex[:6]}", protocol=proto)
        if self._addr.username:
            self.client.username_pw_set(self._addr.username, self._addr.password)
        if self._addr.tls:
            self.client.tls_set()
        self.client.reconnect_delay_set(1, 30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._topics: dict[str, threading.Event] = {}  # services_reply topic -> set once the broker granted it
        self._sub_mids: dict[int, list[str]] = {}
        self._pending: dict[str, _Waiter] = {}
        self._closed = False
        # connect_async: a broker that is down delays the first command, never the gateway's start
        self.client.connect_async(self._addr.host, self._addr.port, 30)
        self.client.loop_start()

    # --- public --------------------------------------------------------------------------------------------
    def start_push(self, cfg: DjiLiveConfig) -> LiveResult:
        data = {"url_type": URL_TYPES[cfg.url_type], "url": cfg.url, "video_id": video_id(cfg),
                "video_quality": cfg.quality}
        return self._command(cfg, "live_start_push", data)

    def stop_push(self, cfg: DjiLiveConfig) -> LiveResult:
        return self._command(cfg, "live_stop_push", {"video_id": video_id(cfg)})

    def alive(self) -> bool:
        return self._closed or paho_loop_running(self.client)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            waiters = list(self._pending.values())
        for w in waiters:
            w.reply = "the controller was closed"
            w.done.set()
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> DjiLiveController:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- one command ---------------------------------------------------------------------------------------
    def _command(self, cfg: DjiLiveConfig, method: str, data: dict[str, Any]) -> LiveResult:
        gw, vid, timeout = cfg.gateway_sn, video_id(cfg), cfg.reply_timeout_s
        if DEVICE_ID_RE.fullmatch(gw) is None:
            raise DjiLiveError(method, gw, vid, "bad_config", "gateway_sn is not a valid device SN for a topic")
        start = time.monotonic()
        deadline = start + timeout
        if self._closed:
            raise DjiLiveError(method, gw, vid, "closed", "the controller was closed")
        if not self._connected.wait(timeout):
            raise DjiLiveError(method, gw, vid, "not_connected",
                               f"not connected to the MQTT broker {self._addr.host}:{self._addr.port} in {timeout:g} s")
        if not self._subscription(f"thing/product/{gw}/services_reply").wait(max(0.0, deadline - time.monotonic())):
            raise DjiLiveError(method, gw, vid, "timeout", f"services_reply subscription not granted in {timeout:g} s")
        tid = str(uuid.uuid4())
        waiter = _Waiter(method)
        with self._lock:
            self._pending[tid] = waiter
        try:
            envelope = {"tid": tid, "bid": str(uuid.uuid4()), "timestamp": int(time.time() * 1000),
                        "method": method, "data": data}
            payload = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
            self.client.publish(f"thing/product/{gw}/services", payload, qos=1)
            log.info("dji.live_command", method=method, gateway_sn=gw, video_id=vid, tid=tid)
            if not waiter.done.wait(max(0.0, deadline - time.monotonic())):
                raise DjiLiveError(method, gw, vid, "timeout", f"no services_reply in {timeout:g} s")
        finally:
            with self._lock:
                self._pending.pop(tid, None)
        reply = waiter.reply
        if isinstance(reply, str):
            raise DjiLiveError(method, gw, vid, "closed", reply)
        result = reply.get("result") if isinstance(reply, dict) else None
        if type(result) is not int:
            raise DjiLiveError(method, gw, vid, "bad_reply",
                               f"services_reply has no integer data.result: {json.dumps(reply)[:200]}")
        elapsed = time.monotonic() - start
        if result == 0:
            return LiveResult(method, gw, vid, tid, 0, "", elapsed)
        if _ALREADY.get(method) == result:
            return LiveResult(method, gw, vid, tid, result, describe_result(result), elapsed)
        raise DjiLiveError(method, gw, vid, "result", f"result {result} ({describe_result(result)})", result)

    def _subscription(self, topic: str) -> threading.Event:
        with self._lock:
            granted = self._topics.get(topic)
            if granted is not None:
                return granted
            granted = self._topics[topic] = threading.Event()
            if self._connected.is_set():
                self._subscribe([topic])
            # else the next on_connect subscribes every known topic
            return granted

    def _subscribe(self, topics: list[str]) -> None:
        """Under self._lock, so the SUBACK callback finds the mid."""
        rc, mid = self.client.subscribe([(t, 1) for t in topics])
        if rc == mqtt.MQTT_ERR_SUCCESS and mid is not None:
            self._sub_mids[mid] = topics

    # --- paho callbacks: network thread, never raise (an exception ends paho's thread) ----------------------
    def _on_connect(self, _c: mqtt.Client, _u: object, _flags: object, reason_code: Any, _p: object) -> None:
        try:
            if getattr(reason_code, "is_failure", False):
                log.warning("dji.live_connect_refused", reason=str(reason_code))
                return
            with self._lock:
                self._connected.set()
                if self._topics:
                    self._subscribe(list(self._topics))
        except Exception:
            log.exception("dji.live_callback_failed", callback="on_connect")

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, reason_code: Any, _p: object) -> None:
        try:
            with self._lock:
                self._connected.clear()
                for granted in self._topics.values():
                    granted.clear()
                self._sub_mids.clear()
            if not self._closed:
                log.warning("dji.live_disconnected", reason=str(reason_code))
        except Exception:
            log.exception("dji.live_callback_failed", callback="on_disconnect")

    def _on_subscribe(self, _c: mqtt.Client, _u: object, mid: int, reason_codes: Any, _p: object) -> None:
        try:
            with self._lock:
                topics = self._sub_mids.pop(mid, [])
                for topic, rc in zip(topics, list(reason_codes or []), strict=False):
                    if getattr(rc, "is_failure", False):
                        log.warning("dji.live_subscribe_refused", topic=topic, reason=str(rc))
                    elif topic in self._topics:
                        self._topics[topic].set()
        except Exception:
            log.exception("dji.live_callback_failed", callback="on_subscribe")

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            self._match(msg.payload)
        except Exception:
            log.exception("dji.live_callback_failed", callback="on_message")

    def _match(self, payload: bytes) -> None:
        try:
            obj = decode_json(payload, _MAX_REPLY_BYTES)
        except PayloadError:
            return
        if not isinstance(obj, dict) or type(obj.get("tid")) is not str:
            return
        with self._lock:
            waiter = self._pending.get(obj["tid"])
        if waiter is None:
            return
        method = obj.get("method")
        if method is not None and method != waiter.method:
            return  # same tid, another command's answer: not ours
        waiter.reply = obj.get("data")
        waiter.done.set()
