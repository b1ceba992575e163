"""A local stand-in for ZLMediaKit's HTTP API (the part the gateway calls), speaking the request and response
shapes of ZLMediaKit's `server/WebApi.cpp`:

    /index/api/addStreamProxy  vhost, app, stream, url required (-300 "Required parameter missed: ..." else);
                               {"code":0,"data":{"key":"{vhost}/{app}/{stream}"}}; the key already held ->
                               {"code":-1,"msg":"This stream already exists"} (no key, as ZLMediaKit answers);
                               a url in `refuse_urls` -> {"code":-1,"msg":"play failed: ..."} (upstream down)
    /index/api/delStreamProxy  key required; {"code":0,"data":{"flag":true|false}}
    /index/api/isMediaOnline   schema, vhost, app, stream required; {"code":0,"online":bool}
    /index/api/getMediaList    optional schema, vhost, app, stream filters; {"code":0,"data":[...]}, no `data`
                               when nothing matches

Every call is GET or POST (query, form or JSON body). With a secret given, a call without it or with another
answers {"code":-100,"msg":"Incorrect secret"}. Each request is recorded with its decoded arguments (`requests`),
so tests see exactly what arrived; `raw_answers` replaces an API's answer with fixed bytes. Runs in a thread on a
free port of 127.0.0.1; a context manager.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["StandinRequest", "ZlmStandin"]


@dataclass(frozen=True)
class StandinRequest:
    api: str  # the part after /index/api/
    http_method: str
    args: dict[str, str]


@dataclass
class _Proxy:
    vhost: str
    app: str
    stream: str
    url: str
    args: dict[str, str]
    created: float = field(default_factory=time.time)


def _missing(args: dict[str, str], *names: str) -> dict[str, Any] | None:
    if all(args.get(n) for n in names):
        return None
    return {"code": -300, "msg": "Required parameter missed: " + ",".join(f'"{n}"' for n in names)}


class ZlmStandin:
    def __init__(self, *, secret: str = "", refuse_urls: set[str] | None = None,
                 raw_answers: dict[str, tuple[int, bytes]] | None = None) -> None:
        self.secret = secret
        self.refuse_urls: set[str] = set(refuse_urls or ())
        # api -> (HTTP status, body) answered as is: a proxy or another server in ZLMediaKit's place
        self.raw_answers: dict[str, tuple[int, bytes]] = dict(raw_answers or {})
        self.requests: list[StandinRequest] = []
        self.proxies: dict[str, _Proxy] = {}
        self._lock = threading.Lock()
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                standin._serve(self, b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                standin._serve(self, self.rfile.read(length) if length else b"")

            def log_message(self, *_a: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="zlm-standin", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def calls(self, api: str) -> list[dict[str, str]]:
        """The decoded arguments of every call to `api`, in order."""
        with self._lock:
            return [r.args for r in self.requests if r.api == api]

    def __enter__(self) -> ZlmStandin:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # --- request handling ---------------------------------------------------------------------------------
    def _serve(self, h: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        parts = urlsplit(h.path)
        if not parts.path.startswith("/index/api/"):
            self._send(h, 404, b"not found", "text/plain")
            return
        api = parts.path[len("/index/api/"):]
        args: dict[str, str] = {}
        ctype = h.headers.get("Content-Type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            args.update(parse_qsl(body.decode("utf-8", "surrogateescape"), keep_blank_values=True))
        elif ctype.startswith("application/json") and body:
            try:
                obj = json.loads(body)
                if isinstance(obj, dict):
                    args.update({str(k): v if isinstance(v, str) else json.dumps(v) for k, v in obj.items()})
            except ValueError:
                pass
        # URL arguments win over the body's, as in ZLMediaKit's getAllArgs
        args.update(parse_qsl(parts.query, keep_blank_values=True))
        with self._lock:
            self.requests.append(StandinRequest(api, h.command, dict(args)))
            raw = self.raw_answers.get(api)
            answer = self._answer(api, args) if raw is None else None
        if raw is not None:
            self._send(h, raw[0], raw[1], "application/json")
        elif answer is None:
            self._send(h, 404, b"not found", "text/plain")
        else:
            self._send(h, 200, json.dumps(answer, ensure_ascii=False).encode(), "application/json; charset=utf-8")

    @staticmethod
    def _send(h: http.server.BaseHTTPRequestHandler, status: int, body: bytes, ctype: str) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _answer(self, api: str, args: dict[str, str]) -> dict[str, Any] | None:
        handler = {"addStreamProxy": self._add, "delStreamProxy": self._del, "isMediaOnline": self._online,
                   "getMediaList": self._list}.get(api)
        if handler is None:
            return None
        if self.secret and args.get("secret") != self.secret:
            return {"code": -100, "msg": "Incorrect secret"}
        return handler(args)

    def _add(self, args: dict[str, str]) -> dict[str, Any]:
        if err := _missing(args, "vhost", "app", "stream", "url"):
            return err
        key = f"{args['vhost']}/{args['app']}/{args['stream']}"
        if key in self.proxies:
            return {"code": -1, "msg": "This stream already exists"}
        if args["url"] in self.refuse_urls:
            return {"code": -1, "msg": f"play failed: {args['url']} refused"}
        self.proxies[key] = _Proxy(args["vhost"], args["app"], args["stream"], args["url"], dict(args))
        return {"code": 0, "data": {"key": key}}

    def _del(self, args: dict[str, str]) -> dict[str, Any]:
        if err := _missing(args, "key"):
            return err
        return {"code": 0, "data": {"flag": self.proxies.pop(args["key"], None) is not None}}

    def _online(self, args: dict[str, str]) -> dict[str, Any]:
        if err := _missing(args, "schema", "vhost", "app", "stream"):
            return err
        p = self.proxies.get(f"{args['vhost']}/{args['app']}/{args['stream']}")
        return {"code": 0, "online": p is not None and args["schema"] == "rtsp"}

    def _list(self, args: dict[str, str]) -> dict[str, Any]:
        items = []
        for p in self.proxies.values():
            item = {"schema": "rtsp", "vhost": p.vhost, "app": p.app, "stream": p.stream, "originType": 4,
                    "originTypeStr": "pull", "originUrl": p.url, "readerCount": 0, "totalReaderCount": 0,
                    "aliveSecond": int(time.time() - p.created)}
            if all(not args.get(k) or args[k] == item[k] for k in ("schema", "vhost", "app", "stream")):
                items.append(item)
        return {"code": 0, "data": items} if items else {"code": 0}
