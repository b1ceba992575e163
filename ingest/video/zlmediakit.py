"""ZLMediaKit's HTTP API as the stream workers use it: pull a source through the media server and read its
RTSP re-stream, so one upstream pull serves the gateway and the bureau's own players.

Request and response shapes follow ZLMediaKit's `server/WebApi.cpp`: every call may be GET or POST (query,
`application/x-www-form-urlencoded` or JSON body), every answer is HTTP 200 with `code` in the body (0 ok, -1 the
call failed, -100 auth failed, -300 invalid args, -400 the handler threw, -500 not found) and `msg` on failure.
We POST form bodies so the secret stays out of the server's access log and URL-encode each value (ZLMediaKit
decodes `%XX` and `+`): an `&` or space inside an RTSP source URL arrives intact.

`addStreamProxy` answers only after the upstream handshake, which it bounds by our `timeout_sec`, so its HTTP
read timeout is longer than that. A proxy already held under the same `{vhost}/{app}/{stream}` is answered
`code -1, msg "This stream already exists"` without the key; we delete that key and add once more, so a gateway
restarted before it could delete its proxies takes them back with the current source URL.

Sync on purpose: the calls run in a stream's own setup thread, never in an event loop.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from ingest.video.config import ZlmConfig

__all__ = ["ZLM_CODES", "ZlmClient", "ZlmError", "ZlmProxy", "play_urls"]

DEFAULT_VHOST = "__defaultVhost__"
# ApiErr in ZLMediaKit's server/WebApi.h
ZLM_CODES: dict[int, str] = {
    0: "success",
    -1: "failed",
    -100: "auth failed",
    -200: "sql failed",
    -300: "invalid args",
    -400: "exception",
    -500: "not found",
}
_ALREADY_EXISTS = "already exists"
# ZLMediaKit bounds the upstream handshake by timeout_sec and answers addStreamProxy after it.
_ADD_EXTRA_S = 5.0
_MAX_BODY = 4 * 1024 * 1024


class ZlmError(Exception):
    """A ZLMediaKit API call that did not succeed. `code` is ZLMediaKit's (None for transport errors: refused,
    timed out, not HTTP 200, not a JSON object)."""

    def __init__(self, api: str, code: int | None, msg: str) -> None:
        self.api = api
        self.code = code
        self.msg = msg
        if code is None:
            text = f"ZLMediaKit {api}: {msg}"
        else:
            text = f"ZLMediaKit {api}: code {code} ({ZLM_CODES.get(code, 'unknown code')}): {msg}"
        super().__init__(text)


@dataclass(frozen=True, slots=True)
class ZlmProxy:
    key: str
    play_url_rtsp: str
    play_url_rtmp: str
    play_url_flv: str
    play_url_hls: str

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "play_url_rtsp": self.play_url_rtsp, "play_url_rtmp": self.play_url_rtmp,
                "play_url_flv": self.play_url_flv, "play_url_hls": self.play_url_hls}


def play_urls(config: ZlmConfig, stream: str) -> tuple[str, str, str, str]:
    """(rtsp, rtmp, http-flv, hls) play URLs of `{app}/{stream}` on the media server. RTSP from
    `config.rtsp_url` (default: the API host on 554), RTMP on the API host's 1935, FLV and HLS on the API base.
    A vhost other than the default is named by the `vhost` query parameter, which ZLMediaKit reads on play."""
    api = urlsplit(config.base_url)
    host = api.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    path = f"{quote(config.app, safe='')}/{quote(stream, safe='')}"
    query = "" if config.vhost == DEFAULT_VHOST else "?" + urlencode({"vhost": config.vhost})
    rtsp_base = config.rtsp_url.rstrip("/") if config.rtsp_url else f"rtsp://{host}:554"
    http_base = config.base_url.rstrip("/")
    return (f"{rtsp_base}/{path}{query}", f"rtmp://{host}:1935/{path}{query}",
            f"{http_base}/{path}.live.flv{query}", f"{http_base}/{path}/hls.m3u8{query}")


class ZlmClient:
    def __init__(self, config: ZlmConfig, *, opener: urllib.request.OpenerDirector | None = None) -> None:
        self.config = config
        # No proxy from the environment: the media server sits next to the gateway.
        self._opener = opener or urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # --- the calls ---------------------------------------------------------------------------------------
    def add_stream_proxy(self, stream_id: str, source_url: str) -> ZlmProxy:
        """Pull `source_url` as `{app}/{stream_id}`; the proxy's key and play URLs. ZlmError when ZLMediaKit
        refuses (the upstream could not be played: code -1 with its reason)."""
        params = {
            "vhost": self.config.vhost, "app": self.config.app, "stream": stream_id, "url": source_url,
            "enable_rtsp": "1", "retry_count": str(self.config.retry_count),
            "timeout_sec": _num(self.config.timeout_s),
        }
        timeout = self.config.timeout_s + _ADD_EXTRA_S
        try:
            body = self._call("addStreamProxy", params, timeout)
        except ZlmError as exc:
            if exc.code != -1 or _ALREADY_EXISTS not in exc.msg.lower():
                raise
            self.del_stream_proxy(f"{self.config.vhost}/{self.config.app}/{stream_id}")
            body = self._call("addStreamProxy", params, timeout)
        data = body.get("data")
        key = data.get("key") if isinstance(data, dict) else None
        if not isinstance(key, str) or not key:
            raise ZlmError("addStreamProxy", None, f"answer has no data.key: {_short(body)}")
        return ZlmProxy(key, *play_urls(self.config, stream_id))

    def del_stream_proxy(self, key: str) -> bool:
        """True when ZLMediaKit held the proxy and removed it, False when it had no such key."""
        body = self._call("delStreamProxy", {"key": key}, self.config.timeout_s)
        data = body.get("data")
        flag = data.get("flag") if isinstance(data, dict) else None
        if type(flag) is not bool:
            raise ZlmError("delStreamProxy", None, f"answer has no boolean data.flag: {_short(body)}")
        return flag

    def is_media_online(self, stream: str, *, schema: str = "rtsp") -> bool:
        body = self._call("isMediaOnline", {"schema": schema, "vhost": self.config.vhost, "app": self.config.app,
                                            "stream": stream}, self.config.timeout_s)
        online = body.get("online")
        if type(online) is not bool:
            raise ZlmError("isMediaOnline", None, f"answer has no boolean online: {_short(body)}")
        return online

    def get_media_list(self, *, stream: str | None = None, schema: str | None = None) -> list[dict[str, Any]]:
        """The media sources under our vhost and app (one entry per schema), optionally one stream's.
        ZLMediaKit leaves `data` out when nothing matches."""
        params = {"vhost": self.config.vhost, "app": self.config.app}
        if stream is not None:
            params["stream"] = stream
        if schema is not None:
            params["schema"] = schema
        body = self._call("getMediaList", params, self.config.timeout_s)
        data = body.get("data", [])
        if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
            raise ZlmError("getMediaList", None, f"data is not a list of objects: {_short(body)}")
        return data

    # --- transport ---------------------------------------------------------------------------------------
    def _call(self, api: str, params: dict[str, str], timeout: float) -> dict[str, Any]:
        args = dict(params)
        if self.config.secret:
            args["secret"] = self.config.secret
        body = urlencode(args, quote_via=quote, safe="").encode("ascii")
        url = f"{self.config.base_url.rstrip('/')}/index/api/{api}"
        req = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded",
                                              "Accept": "application/json"})
        try:
            with self._opener.open(req, timeout=timeout) as resp:
                status = resp.status
                raw = resp.read(_MAX_BODY + 1)
        except urllib.error.HTTPError as exc:
            raise ZlmError(api, None, f"HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise ZlmError(api, None, f"{self.config.base_url} unreachable: {reason}") from None
        if status != 200:
            raise ZlmError(api, None, f"HTTP {status}")
        if len(raw) > _MAX_BODY:
            raise ZlmError(api, None, f"answer larger than {_MAX_BODY} bytes")
        try:
            obj = json.loads(raw)
        except ValueError:
            raise ZlmError(api, None, f"answer is not JSON: {_short(raw[:200])}") from None
        if not isinstance(obj, dict):
            raise ZlmError(api, None, f"answer is not a JSON object: {_short(obj)}")
        code = obj.get("code")
        if type(code) is not int:
            raise ZlmError(api, None, f"answer has no integer code: {_short(obj)}")
        if code != 0:
            msg = obj.get("msg")
            raise ZlmError(api, code, msg if isinstance(msg, str) else _short(obj))
        return obj


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def _short(v: Any, limit: int = 200) -> str:
    text = v.decode("utf-8", "replace") if isinstance(v, bytes) else json.dumps(v, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "..."
