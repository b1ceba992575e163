"""The operational HTTP endpoints: `/healthz` (store and broker status) and `/metrics` (Prometheus).

The full REST API (api/) mounts its routes on the same aiohttp application in a later issue.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.metrics import Metrics

# name -> coroutine returning (ok, detail)
HealthCheck = Callable[[], Awaitable[tuple[bool, str]]]


def build_app(metrics: Metrics, checks: dict[str, HealthCheck]) -> web.Application:
    app = web.Application()

    async def healthz(_req: web.Request) -> web.Response:
        results = {}
        for name, check in checks.items():
            try:
                ok, detail = await check()
            except Exception as exc:  # a failing probe is a status, not a 500
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            results[name] = {"ok": ok, "detail": detail}
        healthy = all(r["ok"] for r in results.values())
        return web.json_response({"status": "ok" if healthy else "degraded", "checks": results},
                                 status=200 if healthy else 503)

    async def metrics_view(_req: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    return app


class HttpServer:
    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app, self.host, self.port = app, host, port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:  # tests ask for any free port
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
            self._runner = None
