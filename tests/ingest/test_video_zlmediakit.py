"""ZLMediaKit client against the local stand-in that speaks ZLMediaKit's request and response shapes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.video.config import ZlmConfig
from ingest.video.zlmediakit import ZlmClient, ZlmError, ZlmProxy, play_urls
from testkit.services import free_port
from testkit.zlm_standin import ZlmStandin

SECRET = "035c73f7-bb6b-4889-a715-d9eb2d1925cc"


@pytest.fixture
def standin() -> Iterator[ZlmStandin]:
    with ZlmStandin(secret=SECRET) as s:
        yield s


def client_for(s: ZlmStandin, **kw: object) -> ZlmClient:
    return ZlmClient(ZlmConfig(base_url=s.base_url, secret=SECRET, timeout_s=3, **kw))


@pytest.mark.parametrize("source", [
    "rtsp://10.1.2.3:554/cam?channel=1&subtype=0",
    "rtsp://admin:p&ss w=rd@10.1.2.3/Streaming/Channels/101?transportmode=unicast&profile=Profile_1",
    "rtsp://10.1.9.9/rtp/34020000001320000001?a=1+2&b=%41",
    "rtmp://10.0.0.1/live/dock 1#frag",
    "http://cam/摄像头/video.flv?token=a/b+c==",
])
def test_source_url_survives_exactly(standin: ZlmStandin, source: str) -> None:
    client_for(standin).add_stream_proxy("gate-1", source)
    (args,) = standin.calls("addStreamProxy")
    assert args["url"] == source
    assert standin.proxies["__defaultVhost__/enforcegw/gate-1"].url == source


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80))
def test_any_source_url_round_trips(standin: ZlmStandin, source: str) -> None:
    client = client_for(standin)
    proxy = client.add_stream_proxy("prop", source)
    assert standin.proxies[proxy.key].url == source
    assert client.del_stream_proxy(proxy.key) is True


def test_add_sends_the_documented_arguments(standin: ZlmStandin) -> None:
    proxy = client_for(standin, retry_count=3, app="bureau").add_stream_proxy("gb-3402", "rtsp://x/y")
    (args,) = standin.calls("addStreamProxy")
    assert args == {"vhost": "__defaultVhost__", "app": "bureau", "stream": "gb-3402", "url": "rtsp://x/y",
                    "enable_rtsp": "1", "retry_count": "3", "timeout_sec": "3", "secret": SECRET}
    assert standin.requests[0].http_method == "POST"
    assert proxy == ZlmProxy(
        key="__defaultVhost__/bureau/gb-3402",
        play_url_rtsp="rtsp://127.0.0.1:554/bureau/gb-3402",
        play_url_rtmp="rtmp://127.0.0.1:1935/bureau/gb-3402",
        play_url_flv=f"{standin.base_url}/bureau/gb-3402.live.flv",
        play_url_hls=f"{standin.base_url}/bureau/gb-3402/hls.m3u8",
    )


@pytest.mark.parametrize(("base_url", "rtsp_url", "vhost", "rtsp", "flv"), [
    ("http://127.0.0.1:8080", "", "__defaultVhost__", "rtsp://127.0.0.1:554/enforcegw/s1",
     "http://127.0.0.1:8080/enforcegw/s1.live.flv"),
    ("http://zlm.local:80/", "rtsp://10.0.0.5:8554/", "__defaultVhost__", "rtsp://10.0.0.5:8554/enforcegw/s1",
     "http://zlm.local:80/enforcegw/s1.live.flv"),
    ("http://[::1]:8080", "", "__defaultVhost__", "rtsp://[::1]:554/enforcegw/s1",
     "http://[::1]:8080/enforcegw/s1.live.flv"),
    ("http://127.0.0.1", "", "bureau.example", "rtsp://127.0.0.1:554/enforcegw/s1?vhost=bureau.example",
     "http://127.0.0.1/enforcegw/s1.live.flv?vhost=bureau.example"),
])
def test_play_urls(base_url: str, rtsp_url: str, vhost: str, rtsp: str, flv: str) -> None:
    got = play_urls(ZlmConfig(base_url=base_url, rtsp_url=rtsp_url, vhost=vhost), "s1")
    assert (got[0], got[2]) == (rtsp, flv)


def test_add_then_delete(standin: ZlmStandin) -> None:
    client = client_for(standin)
    proxy = client.add_stream_proxy("gate-1", "rtsp://cam/1")
    assert list(standin.proxies) == [proxy.key]
    assert client.is_media_online("gate-1") is True
    [media] = client.get_media_list(stream="gate-1")
    assert (media["app"], media["stream"], media["originUrl"]) == ("enforcegw", "gate-1", "rtsp://cam/1")
    assert client.del_stream_proxy(proxy.key) is True
    assert standin.proxies == {}
    assert client.del_stream_proxy(proxy.key) is False  # ZLMediaKit: flag false for a key it does not hold
    assert client.is_media_online("gate-1") is False
    assert client.get_media_list() == []  # ZLMediaKit leaves `data` out when nothing matches
    assert standin.calls("delStreamProxy") == [{"key": proxy.key, "secret": SECRET}] * 2


def test_already_exists_is_deleted_and_added_again(standin: ZlmStandin) -> None:
    client = client_for(standin)
    client.add_stream_proxy("gate-1", "rtsp://old/1")
    proxy = client.add_stream_proxy("gate-1", "rtsp://new/1")
    assert proxy.key == "__defaultVhost__/enforcegw/gate-1"
    assert standin.proxies[proxy.key].url == "rtsp://new/1"
    assert [(r.api, r.args.get("url", r.args.get("key"))) for r in standin.requests] == [
        ("addStreamProxy", "rtsp://old/1"),
        ("addStreamProxy", "rtsp://new/1"),  # answered -1 "This stream already exists"
        ("delStreamProxy", "__defaultVhost__/enforcegw/gate-1"),
        ("addStreamProxy", "rtsp://new/1"),
    ]


@pytest.mark.parametrize(("secret", "code", "words"), [
    ("wrong", -100, "auth failed"),
    ("", -100, "auth failed"),  # the stand-in requires the secret it was given
])
def test_wrong_or_missing_secret(standin: ZlmStandin, secret: str, code: int, words: str) -> None:
    client = ZlmClient(ZlmConfig(base_url=standin.base_url, secret=secret, timeout_s=3))
    with pytest.raises(ZlmError) as err:
        client.add_stream_proxy("gate-1", "rtsp://cam/1")
    assert err.value.code == code
    assert f"code {code} ({words})" in str(err.value)
    assert "Incorrect secret" in str(err.value)
    assert standin.proxies == {}


def test_invalid_args_and_upstream_refused(standin: ZlmStandin) -> None:
    client = client_for(standin)
    with pytest.raises(ZlmError) as err:
        client.add_stream_proxy("", "rtsp://cam/1")
    assert err.value.code == -300
    assert "invalid args" in str(err.value) and "Required parameter missed" in str(err.value)
    standin.refuse_urls.add("rtsp://down/1")
    with pytest.raises(ZlmError) as err:
        client.add_stream_proxy("gate-2", "rtsp://down/1")
    assert err.value.code == -1
    assert "(failed): play failed" in str(err.value)
    assert standin.calls("delStreamProxy") == []  # only "already exists" is taken back


def test_no_secret_configured_is_not_sent() -> None:
    with ZlmStandin() as s:
        ZlmClient(ZlmConfig(base_url=s.base_url, timeout_s=3)).add_stream_proxy("a", "rtsp://x")
        assert "secret" not in s.calls("addStreamProxy")[0]


def test_server_down() -> None:
    client = ZlmClient(ZlmConfig(base_url=f"http://127.0.0.1:{free_port()}", secret=SECRET, timeout_s=2))
    for call in (lambda: client.add_stream_proxy("a", "rtsp://x"), lambda: client.del_stream_proxy("k")):
        with pytest.raises(ZlmError) as err:
            call()
        assert err.value.code is None
        assert "unreachable" in str(err.value)
        assert SECRET not in str(err.value)


@pytest.mark.parametrize(("status", "body", "words"), [
    (200, b"<html>nginx</html>", "not JSON"),
    (200, b"[1, 2]", "not a JSON object"),
    (200, b'{"msg": "no code"}', "no integer code"),
    (200, b'{"code": 0, "data": {}}', "no data.key"),
    (200, b'{"code": 0, "data": {"key": ""}}', "no data.key"),
    (502, b"<html>Bad Gateway</html>", "HTTP 502"),
])
def test_answers_that_are_not_zlmediakit(status: int, body: bytes, words: str) -> None:
    with ZlmStandin(raw_answers={"addStreamProxy": (status, body)}) as s, pytest.raises(ZlmError) as err:
        ZlmClient(ZlmConfig(base_url=s.base_url, timeout_s=2)).add_stream_proxy("a", "rtsp://x")
    assert err.value.code is None
    assert words in str(err.value)


@pytest.mark.parametrize(("api", "body", "words"), [
    ("delStreamProxy", b'{"code": 0, "data": {"flag": 1}}', "no boolean data.flag"),
    ("isMediaOnline", b'{"code": 0}', "no boolean online"),
    ("getMediaList", b'{"code": 0, "data": {"app": "x"}}', "not a list of objects"),
])
def test_other_answers_checked(api: str, body: bytes, words: str) -> None:
    with ZlmStandin(raw_answers={api: (200, body)}) as s:
        client = ZlmClient(ZlmConfig(base_url=s.base_url, timeout_s=2))
        call = {"delStreamProxy": lambda: client.del_stream_proxy("k"),
                "isMediaOnline": lambda: client.is_media_online("s"),
                "getMediaList": client.get_media_list}[api]
        with pytest.raises(ZlmError, match=words):
            call()


def test_not_a_zlmediakit_path(standin: ZlmStandin) -> None:
    client = ZlmClient(ZlmConfig(base_url=standin.base_url + "/nothing-here", secret=SECRET, timeout_s=2))
    with pytest.raises(ZlmError, match="HTTP 404"):
        client.del_stream_proxy("k")
