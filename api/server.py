"""The console API on the gateway's aiohttp application: `mount(app, gw)` builds the route table from the route
modules, serves it under /api/, and puts one middleware in front of it that

- answers every error under /api/ as `{"error": {"code", "message", "field"?}}` (aiohttp's own 404/405 too),
- checks access from the route's spec (api/auth.py) before the handler runs,
- writes an audit_log row for every state-changing request, allowed or refused, unless the handler wrote it in
  the transaction of what it did (review decisions: the row commits with the decision or not at all). A request
  its handler refused is written with the refusal's code as its result (`refused_four_eyes`).

A route module exposes `register(table, ctx)` and is listed in ROUTE_MODULES.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from api.auth import AccessCheck, AccessRefused, FailureWindow
from api.context import AUDIT_KEY, PRINCIPAL_KEY, ApiContext, OnReady, Principal, audit_entry
from api.errors import STATUS_CODES, ApiError, error_response
from api.openapi import build_document
from api.routes import PUBLIC, RouteSpec, RouteTable
from api.site import mount_site
from gateway.health import VKEY_PATH
from gateway.store.audit_log import record

if TYPE_CHECKING:
    from gateway.app import Gateway, HttpMount

log = structlog.get_logger(__name__)

# Each: register(table: RouteTable, ctx: ApiContext). Order matters where paths overlap: aiohttp matches in
# registration order, so /api/alerts/stream and /api/alerts/counts come before /api/alerts/{clue_code}.
ROUTE_MODULES = ["api.stream", "api.console_data", "api.alerts_read", "api.review.first", "api.review.legal",
                 "api.review.supervise", "api.evidence_read", "api.public", "api.audit_log", "api.ingest_http",
                 "api.tasks", "api.task_ack", "api.case_systems", "api.links", "api.streams",
                 "api.photos"]

CONTEXT_KEY = web.AppKey("enforcegw.api.context", ApiContext)
TABLE_KEY = web.AppKey("enforcegw.api.routes", RouteTable)
ACCESS_KEY = web.AppKey("enforcegw.api.access", AccessCheck)
POOL_MAX = 10


Register = Callable[[RouteTable, ApiContext], object]


def make_mount(*, auth_failure_limit: int | None = None, auth_window_s: float | None = None,
               route_modules: Sequence[str] | None = None, extra: Sequence[Register] = (),
               on_ready: Sequence[OnReady] = ()) -> HttpMount:
    """A mount; the brake comes from `api.auth` in the settings unless given here (tests), `extra` adds
    registrations (tests), and `on_ready` runs inside each review decision that makes an alert ready for a case
    task (see api.context.OnReady). `mount` is the plain one."""

    def mount_api(app: web.Application, gw: Gateway) -> None:
        brake = gw.settings.api.auth
        pool = AsyncConnectionPool(gw.database_url, min_size=1, max_size=POOL_MAX, open=False,
                                   kwargs={"autocommit": True})
        sync_pool = ConnectionPool(gw.database_url, min_size=1, max_size=gw.settings.api.review.pool_max,
                                   open=False, kwargs={"autocommit": True})
        # The gateway's case service makes the task of an alert a decision made ready (issue 14), in that
        # decision's transaction; tests may add their own hooks.
        ready = [gw.cases.on_ready] if gw.cases is not None else []
        ctx = ApiContext(settings=gw.settings, database_url=gw.database_url, pool=pool, metrics=gw.metrics,
                         evidence=gw.evidence, gateway=gw, sync_pool=sync_pool, on_ready=[*ready, *on_ready])
        modules = ROUTE_MODULES if route_modules is None else route_modules
        table = build_table(ctx, [importlib.import_module(m).register for m in modules] + list(extra))
        failures = FailureWindow(brake.failure_limit if auth_failure_limit is None else auth_failure_limit,
                                 brake.window_s if auth_window_s is None else auth_window_s)
        access = AccessCheck(pool, failures)
        gateway_owned = _add_routes(app, table)
        mount_site(app)
        app[CONTEXT_KEY], app[TABLE_KEY], app[ACCESS_KEY] = ctx, table, access
        app.middlewares.append(_middleware(table, access, pool, gateway_owned))

        async def open_pool(_app: web.Application) -> None:
            await pool.open(wait=True, timeout=30)
            await asyncio.to_thread(sync_pool.open, wait=True, timeout=30)

        async def close_pool(_app: web.Application) -> None:
            await pool.close()
            await asyncio.to_thread(sync_pool.close)

        async def closing(_app: web.Application) -> None:
            ctx.closing.set()

        app.on_startup.append(open_pool)
        app.on_shutdown.append(closing)
        app.on_cleanup.append(close_pool)

    return mount_api


def build_table(ctx: ApiContext, registers: Sequence[Register]) -> RouteTable:
    table = RouteTable()
    for register in registers:
        register(table, ctx)
    _register_docs(table, ctx)
    return table


def _register_docs(table: RouteTable, ctx: ApiContext) -> None:
    page = resources.files("api").joinpath("docs.html").read_text(encoding="utf-8")
    document: dict[str, Any] = {}  # built at the first request, once every module has registered

    async def openapi(_req: web.Request) -> web.Response:
        if not document:
            document.update(build_document(table))
        return web.json_response(document)

    async def vkey(_req: web.Request) -> web.Response:  # the gateway's own handler serves it when it has a log
        if ctx.evidence is None:
            raise ApiError(404, "this gateway has no evidence log")
        return web.Response(text=ctx.evidence.vkey.strip() + "\n", content_type="text/plain", charset="utf-8")

    async def docs(_req: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    table.add("GET", "/api/openapi.json", openapi, roles=PUBLIC, summary="This API's OpenAPI 3.1 document.")
    table.add("GET", VKEY_PATH, vkey, roles=PUBLIC,
              summary="The evidence log's verifier key (signed-note vkey, text/plain), served by the gateway.")
    table.add("GET", "/api/docs", docs, roles=PUBLIC, summary="The OpenAPI document as a page (works offline).")


def _add_routes(app: web.Application, table: RouteTable) -> set[tuple[str, str]]:
    """Route the table's handlers; return the gateway's own /api/ routes (e.g. /api/public/vkey), which were
    there before the API. A spec the gateway already serves keeps the gateway's handler: the spec still
    governs access and documents it."""
    existing = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None}
    for spec in table.routes:
        if (spec.method, spec.path) in existing:
            continue
        if spec.method == "GET":
            app.router.add_get(spec.path, spec.handler)
        else:
            app.router.add_route(spec.method, spec.path, spec.handler)
    return {(m, p) for m, p in existing if p.startswith("/api/")}


def _http_error(exc: web.HTTPException) -> web.Response:
    headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after", "www-authenticate")}
    if exc.content_type == "application/json" and exc.text:  # already the API's error shape (api.models.error)
        return web.Response(status=exc.status, text=exc.text, content_type="application/json", headers=headers)
    message = exc.reason if exc.status in (404, 405) else (exc.text or exc.reason)
    if exc.status == 405:
        message = f"method not allowed here; allowed: {headers.get('Allow', '')}"
    return error_response(exc.status, STATUS_CODES.get(exc.status, "error"), message or exc.reason,
                          headers=headers)


def _middleware(table: RouteTable, access: AccessCheck, pool: AsyncConnectionPool,
                gateway_owned: set[tuple[str, str]]):
    @web.middleware
    async def api_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        match = request.match_info
        if match.http_exception is not None:  # aiohttp found no route (404) or not for this method (405)
            return _http_error(match.http_exception)
        resource = match.route.resource
        canonical = resource.canonical if resource is not None else request.path
        method = "GET" if request.method == "HEAD" else request.method
        spec = table.find(method, canonical)
        if spec is None:
            if (method, canonical) in gateway_owned:
                return await handler(request)
            # Something routed around the table: refuse rather than serve a route nobody gave roles to.
            return error_response(403, "not_in_route_table", f"{method} {canonical} has no access rule")
        who: Principal | None = None
        result = "allowed"
        try:
            who = await access.check(request, spec)
            request[PRINCIPAL_KEY] = who
            response = await _handle(request, handler, spec)
        except AccessRefused as refused:
            who, result, response = refused.principal, refused.result, refused.error.response()
        note = request.get(AUDIT_KEY, {})
        if spec.changes_state and not note.get("recorded"):
            refusal = note.get("refused")
            await _audit(pool, request, who, f"refused_{refusal}" if refusal else result, response.status)
        return response

    return api_middleware


async def _handle(request: web.Request, handler: Any, spec: RouteSpec) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        request.setdefault(AUDIT_KEY, {}).update(refused=exc.code, recorded=False, result=None)
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        request.setdefault(AUDIT_KEY, {}).update(refused=STATUS_CODES.get(exc.status, "error"), recorded=False,
                                                 result=None)
        return _http_error(exc)
    except Exception:
        log.exception("api.handler_failed", method=spec.method, route=spec.path)
        request.setdefault(AUDIT_KEY, {}).update(recorded=False, result="failed")
        return error_response(500, "internal_error", "the request failed inside the gateway; see its log")


async def _audit(pool: AsyncConnectionPool, request: web.Request, who: Principal | None, result: str,
                 status: int) -> None:
    entry = audit_entry(request, who, result=result, status=status)
    try:
        async with pool.connection() as conn:
            await record(conn, entry)
    except Exception:
        # The request has been answered by its handler already; losing its row must at least be loud.
        log.exception("api.audit_failed", action=entry.action, target=entry.target, status=status)


mount = make_mount()
