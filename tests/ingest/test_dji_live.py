"""DJI dock live video over the real broker: a test dock answers live_start_push / live_stop_push on
services_reply the way the Cloud API documents, or wrongly, or not at all."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from ingest.dji.live import DjiLiveController, DjiLiveError, LiveResult
from ingest.mqtt import BrokerAddress
from ingest.video.config import DjiLiveConfig
from testkit.services import free_port

Reply = bytes | dict[str, Any]
Responder = Callable[[dict[str, Any]], list[Reply]]


def reply_to(req: dict[str, Any], result: Any = 0, **over: Any) -> dict[str, Any]:
    """The documented services_reply to `req`: same tid, bid and method, data.result."""
    return {"tid": req["tid"], "bid": req["bid"], "timestamp": int(time.time() * 1000), "method": req["method"],
            "data": {"result": result}, **over}


class Dock:
    """A dock on the broker: records each command on thing/product/{sn}/services and publishes what
    `responder` returns for it on services_reply."""

    def __init__(self, url: str, sn: str, responder: Responder) -> None:
        self.sn = sn
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        addr = BrokerAddress.parse(url)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"dock-{sn}", protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_a: subscribed.set()
        self.client.on_connect = lambda c, *_a: c.subscribe(f"thing/product/{sn}/services", qos=1)
        self.client.connect(addr.host, addr.port, 30)
        self.client.loop_start()
        assert subscribed.wait(10), "test dock could not subscribe"

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        req = json.loads(msg.payload)
        with self.lock:
            self.requests.append(req)
        for r in self.responder(req):
            body = r if isinstance(r, bytes) else json.dumps(r).encode()
            self.client.publish(f"thing/product/{self.sn}/services_reply", body, qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def gw() -> str:
    return f"TESTGW{uuid.uuid4().hex[:10].upper()}"


@pytest.fixture
def live(mqtt_url: str) -> Iterator[DjiLiveController]:
    with DjiLiveController(mqtt_url, client_id="test-live") as c:
        yield c


@pytest.fixture
def dock(mqtt_url: str, gw: str) -> Iterator[Callable[[Responder], Dock]]:
    docks: list[Dock] = []

    def make(responder: Responder, sn: str = gw) -> Dock:
        docks.append(Dock(mqtt_url, sn, responder))
        return docks[-1]

    yield make
    for d in docks:
        d.close()


def cfg(gw: str, **kw: Any) -> DjiLiveConfig:
    base = {"gateway_sn": gw, "sn": "1581F5BKD22DEMO0001", "camera_index": "39-0-7", "url": "rtmp://10.1.9.9/live/d1",
            "reply_timeout_s": 5.0}
    return DjiLiveConfig(**{**base, **kw})


@pytest.mark.parametrize(("url_type", "number", "url", "quality", "video_index"), [
    ("rtmp", 1, "rtmp://10.1.9.9/live/dock1", 3, "normal-0"),
    ("rtsp", 2, "rtsp://10.1.9.9:8554/live/dock1", 0, "zoom-0"),
    ("gb28181", 3, "serverIP=10.1.9.9&serverPort=5060&serverID=34020000002000000001&agentID=34020000001320000001"
                   "&agentPassword=12345678&localPort=7060&channel=34020000001320000001", 4, "wide-0"),
])
def test_start_push_publishes_the_documented_request(live: DjiLiveController, dock: Callable[[Responder], Dock],
                                                     gw: str, url_type: str, number: int, url: str, quality: int,
                                                     video_index: str) -> None:
    d = dock(lambda req: [reply_to(req, 0)])
    before = int(time.time() * 1000)
    result = live.start_push(cfg(gw, url_type=url_type, url=url, quality=quality, video_index=video_index))
    (req,) = d.requests
    assert set(req) == {"tid", "bid", "timestamp", "method", "data"}
    assert req["method"] == "live_start_push"
    assert req["data"] == {"url_type": number, "url": url, "video_id": f"1581F5BKD22DEMO0001/39-0-7/{video_index}",
                           "video_quality": quality}
    assert str(uuid.UUID(req["tid"])) == req["tid"] and str(uuid.UUID(req["bid"])) == req["bid"]
    assert req["tid"] != req["bid"]
    assert type(req["timestamp"]) is int and before <= req["timestamp"] <= int(time.time() * 1000)
    assert result == LiveResult("live_start_push", gw, f"1581F5BKD22DEMO0001/39-0-7/{video_index}", req["tid"], 0,
                                "", result.elapsed_s)
    assert result.as_dict()["result"] == 0


def test_stop_push_sends_only_the_video_id(live: DjiLiveController, dock: Callable[[Responder], Dock],
                                           gw: str) -> None:
    d = dock(lambda req: [reply_to(req, 0)])
    result = live.stop_push(cfg(gw, sn="DOCKSN01", camera_index="165-0-7"))
    (req,) = d.requests
    assert (req["method"], req["data"]) == ("live_stop_push", {"video_id": "DOCKSN01/165-0-7/normal-0"})
    assert (result.method, result.result) == ("live_stop_push", 0)


@pytest.mark.parametrize(("result", "words"), [
    (514301, "result 514301 (request timed out, connection lost)"),
    (513002, "result 513002 (camera does not exist or is of the wrong type)"),
    (513011, "result 513011 (device is not live streaming)"),  # a failure for start, success for stop
    (599999, "result 599999 (unknown result code)"),
])
def test_non_zero_result_is_a_named_failure(live: DjiLiveController, dock: Callable[[Responder], Dock], gw: str,
                                            result: int, words: str) -> None:
    dock(lambda req: [reply_to(req, result)])
    with pytest.raises(DjiLiveError) as err:
        live.start_push(cfg(gw))
    assert (err.value.reason, err.value.result, err.value.method) == ("result", result, "live_start_push")
    assert str(err.value) == f"live_start_push 1581F5BKD22DEMO0001/39-0-7/normal-0 via dock {gw}: {words}"


@pytest.mark.parametrize(("method", "code", "note"), [
    ("start_push", 513003, "camera is already live streaming"),
    ("stop_push", 513011, "device is not live streaming"),
])
def test_already_in_the_state_asked_for(live: DjiLiveController, dock: Callable[[Responder], Dock], gw: str,
                                        method: str, code: int, note: str) -> None:
    dock(lambda req: [reply_to(req, code)])
    result = getattr(live, method)(cfg(gw))
    assert (result.result, result.note) == (code, note)


def test_no_reply_times_out(live: DjiLiveController, dock: Callable[[Responder], Dock], gw: str) -> None:
    d = dock(lambda req: [])
    with pytest.raises(DjiLiveError) as err:
        live.start_push(cfg(gw, reply_timeout_s=0.5))
    assert err.value.reason == "timeout"
    assert str(err.value).endswith("no services_reply in 0.5 s")
    assert len(d.requests) == 1


def test_others_replies_and_garbage_are_skipped(live: DjiLiveController, dock: Callable[[Responder], Dock],
                                                gw: str) -> None:
    def responder(req: dict[str, Any]) -> list[Reply]:
        return [
            reply_to(req, 514301, tid=str(uuid.uuid4())),  # another command's answer
            reply_to(req, 514301, method="live_set_quality"),  # our tid, another method
            b"not json", b"[1, 2]", b"\xff\xfe", b'{"tid": 7}', b'{"tid": null, "data": {"result": 1}}',
            b'{"tid": "x", "data": 1e400}', b"{" * 5000,
            reply_to(req, 0),
        ]

    dock(responder)
    assert live.start_push(cfg(gw)).result == 0
    assert live.alive()
    assert live.start_push(cfg(gw)).result == 0  # still answering after the garbage


@pytest.mark.parametrize("data", [{"result": "0"}, {}, None, [0], {"result": 0.0}, {"result": True}])
def test_our_tid_without_an_integer_result(live: DjiLiveController, dock: Callable[[Responder], Dock], gw: str,
                                           data: Any) -> None:
    dock(lambda req: [{**reply_to(req), "data": data}])
    with pytest.raises(DjiLiveError) as err:
        live.start_push(cfg(gw))
    assert err.value.reason == "bad_reply"


def test_reply_without_method_is_matched_by_tid(live: DjiLiveController, dock: Callable[[Responder], Dock],
                                                gw: str) -> None:
    def responder(req: dict[str, Any]) -> list[Reply]:
        r = reply_to(req, 0)
        del r["method"]
        return [r]

    dock(responder)
    assert live.start_push(cfg(gw)).result == 0


def test_concurrent_streams_answered_out_of_order(live: DjiLiveController, dock: Callable[[Responder], Dock],
                                                  gw: str) -> None:
    """Four cameras on one dock and one on another, commanded at once; the first dock answers only when it holds
    all four commands, newest first, each with a result that names its camera."""
    held: list[dict[str, Any]] = []
    lock = threading.Lock()

    def batch(req: dict[str, Any]) -> list[Reply]:
        with lock:
            held.append(req)
            if len(held) < 4:
                return []
            return [reply_to(r, 513005 if r["data"]["video_id"].startswith(("AC1/", "AC3/")) else 0)
                    for r in reversed(held)]

    dock(batch)
    other = f"{gw}B"
    dock(lambda req: [reply_to(req, 0)], sn=other)
    results: dict[str, Any] = {}

    def run(name: str, c: DjiLiveConfig) -> None:
        try:
            results[name] = live.start_push(c)
        except DjiLiveError as exc:
            results[name] = exc

    jobs = {f"AC{i}": cfg(gw, sn=f"AC{i}") for i in range(4)}
    jobs["other"] = cfg(other)
    threads = [threading.Thread(target=run, args=item) for item in jobs.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    for name, c in jobs.items():
        got = results[name]
        vid = f"{c.sn}/39-0-7/normal-0"
        if name in ("AC1", "AC3"):
            assert isinstance(got, DjiLiveError) and got.result == 513005 and got.video_id == vid
        else:
            assert isinstance(got, LiveResult) and got.video_id == vid and got.result == 0


def test_broker_unreachable() -> None:
    with (DjiLiveController(f"mqtt://127.0.0.1:{free_port()}", client_id="test-live-down") as c,
          pytest.raises(DjiLiveError) as err):
        c.start_push(cfg("GW1", reply_timeout_s=0.3))
    assert err.value.reason == "not_connected"
    assert "not connected to the MQTT broker 127.0.0.1:" in str(err.value)


@pytest.mark.parametrize("sn", ["GW/1", "GW+", "#", "", "Ü" * 3])
def test_gateway_sn_that_cannot_name_a_topic(live: DjiLiveController, sn: str) -> None:
    with pytest.raises(DjiLiveError) as err:
        live.start_push(cfg(sn))
    assert err.value.reason == "bad_config"


def test_closed_controller_refuses(mqtt_url: str, gw: str) -> None:
    c = DjiLiveController(mqtt_url, client_id="test-live-closed")
    c.close()
    with pytest.raises(DjiLiveError) as err:
        c.start_push(cfg(gw))
    assert err.value.reason == "closed"


def test_subscriptions_return_after_a_reconnect(mqtt_url: str, live: DjiLiveController,
                                                dock: Callable[[Responder], Dock], gw: str) -> None:
    """The broker drops the controller (another client takes its client id); paho reconnects on a clean session,
    and the services_reply subscriptions must be made again before the next command is answered."""
    dock(lambda req: [reply_to(req, 0)])
    assert live.start_push(cfg(gw)).result == 0
    dropped = threading.Event()
    previous = live.client.on_disconnect

    def seen(*a: Any) -> None:
        previous(*a)
        dropped.set()

    live.client.on_disconnect = seen
    addr = BrokerAddress.parse(mqtt_url)
    kicker = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=live.client._client_id.decode(),
                         protocol=mqtt.MQTTv5)
    kicker.connect(addr.host, addr.port, 30)
    kicker.loop_start()
    try:
        assert dropped.wait(10), "the broker did not drop the controller"
    finally:
        kicker.loop_stop()  # no reconnect: the controller takes its id back
    assert live.start_push(cfg(gw, reply_timeout_s=10)).result == 0
