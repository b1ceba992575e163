"""The operational HTTP endpoints: `/healthz` (store, broker and worker status), `/metrics` (Prometheus) and
`/api/public/vkey` (the evidence log's verifier key, for receivers of bundles to check them against).

The console API (api/) mounts its routes on the same aiohttp application through the gateway's HTTP mounts.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.log_throttle import LogThrottle
from gateway.metrics import Metrics
from gateway.workers import WorkerRegistry

# name -> coroutine returning (ok, detail)
HealthCheck = Callable[[], Awaitable[tuple[bool, str]]]

VKEY_PATH = "/api/public/vkey"


def build_app(metrics: Metrics, checks: dict[str, HealthCheck], *, workers: WorkerRegistry | None = None,
              vkey: str | None = None) -> web.Application:
    app = web.Application()

    async def healthz(_req: web.Request) -> web.Response:
        results = {}
        for name, check in checks.items():
            try:
                ok, detail = await check()
            except Exception as exc:  # a failing probe is a status, not a 500
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            results[name] = {"ok": ok, "detail": detail}
        body: dict[str, Any] = {"checks": results}
        if workers is not None:
            statuses = workers.statuses()
            down = [s for s in statuses.values() if not s.alive]
            results["workers"] = {
                "ok": not down,
                "detail": "; ".join(f"{s.name} {s.state}: {s.last_error}" for s in down) or
                f"{len(statuses)} running",
            }
            body["workers"] = {name: s.as_dict() for name, s in statuses.items()}
        healthy = all(r["ok"] for r in results.values())
        return web.json_response({"status": "ok" if healthy else "degraded", **body},
                                 status=200 if healthy else 503)

    async def metrics_view(_req: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    if vkey is not None:
        key_text = vkey.strip() + "\n"

        async def vkey_view(_req: web.Request) -> web.Response:
            return web.Response(text=key_text, content_type="text/plain", charset="utf-8")

        app.router.add_get(VKEY_PATH, vkey_view)
    return app


class RefusedRequestLog(logging.LoggerAdapter):
    """aiohttp's server logger, except for requests it refuses as malformed: those get one structured line
    each (`http.request_refused`), at most `throttle.limit` a window, the rest counted in the next line and in
    `enforcegw_http_requests_refused_total`. aiohttp would write a full traceback for each, and anyone who can
    reach the port could fill the log with them. Everything else (a handler's own bug) keeps its traceback."""

    def __init__(self, metrics: Metrics | None, throttle: LogThrottle | None = None) -> None:
        super().__init__(logging.getLogger("aiohttp.server"), {})
        self.metrics = metrics
        self.throttle = throttle or LogThrottle(limit=10, per_s=60.0)
        self._log = structlog.get_logger(__name__)

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        if isinstance(exc, tuple):
            exc = exc[1]
        if not isinstance(exc, HttpProcessingError):
            super().log(level, msg, *args, **kwargs)
            return
        status = exc.code or 400
        if self.metrics is not None:
            self.metrics.http_refused.labels(str(status)).inc()
        suppressed = self.throttle.admit()
        if suppressed is None:
            return
        remote = args[0] if args else None  # aiohttp: "Error handling request from %s", request.remote
        self._log.warning("http.request_refused", remote=remote, status=status, error=_short(exc.message),
                          suppressed_since_last=suppressed)


def _short(text: object, limit: int = 200) -> str:
    """aiohttp's parser message spans lines (the offending bytes, a caret under the fault): keep one line."""
    parts = [p.strip() for p in str(text).splitlines()]
    s = " ".join(p for p in parts if p and set(p) != {"^"})
    return s if len(s) <= limit else s[:limit] + "..."


class HttpServer:
    def __init__(self, app: web.Application, host: str, port: int, *, metrics: Metrics | None = None,
                 refused_throttle: LogThrottle | None = None) -> None:
        self.app, self.host, self.port = app, host, port
        self.server_log = RefusedRequestLog(metrics, refused_throttle)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, logger=self.server_log)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:  # tests ask for any free port
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
            self._runner = None
