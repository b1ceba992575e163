"""The case systems tasks are pushed to, as operations see them: which are disabled (a receiver answered 410
Gone) and why, their deliveries by state, and enabling one again."""

from __future__ import annotations

import asyncio
from datetime import datetime

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from api.context import ApiContext, audit_note
from api.models import error, json_response
from api.routes import RouteTable
from gateway.cases.deliveries import disabled_systems, enable_system

log = structlog.get_logger(__name__)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseSystemOut(_Out):
    name: str
    url: str
    enabled: bool = Field(description="Enabled in config.")
    disabled_reason: str | None = Field(description="Why it is disabled now (a 410 answer), if it is.")
    disabled_at: datetime | None
    deliveries: dict[str, int] = Field(description="Its deliveries by state.")


class CaseSystemsOut(_Out):
    systems: list[CaseSystemOut]


class EnableOut(_Out):
    system: str
    deliveries_pending_again: int


def register(table: RouteTable, ctx: ApiContext) -> None:
    async def list_systems(_request: web.Request) -> web.Response:
        configured = ctx.gateway.cases.config.systems if ctx.gateway is not None and ctx.gateway.cases else []
        async with ctx.pool.connection() as conn:
            disabled = {r[0]: (r[1], r[2]) for r in await (await conn.execute(
                "SELECT system, reason, disabled_at FROM case_systems_disabled")).fetchall()}
            counts = await (await conn.execute("SELECT system, state, count(*) FROM case_deliveries"
                                               " GROUP BY system, state")).fetchall()
        by_system: dict[str, dict[str, int]] = {}
        for system, state, n in counts:
            by_system.setdefault(system, {})[state] = n
        return json_response(CaseSystemsOut(systems=[CaseSystemOut(
            name=s.name, url=s.url, enabled=s.enabled, disabled_reason=disabled.get(s.name, (None, None))[0],
            disabled_at=disabled.get(s.name, (None, None))[1], deliveries=by_system.get(s.name, {}))
            for s in configured]))

    async def enable_system(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        audit_note(request, target=f"case-system:{name}")
        configured = {s.name for s in ctx.gateway.cases.config.systems} \
            if ctx.gateway is not None and ctx.gateway.cases else set()
        if name not in configured:
            raise error(404, "not_found", f"no case system {name!r} in this gateway's config")
        n = await asyncio.to_thread(_enable_in_thread, ctx, name)
        if n is None:
            raise error(409, "not_disabled", f"case system {name!r} is not disabled")
        log.info("cases.system_enabled", system=name, deliveries=n)
        if ctx.gateway is not None and ctx.gateway.cases is not None:
            ctx.gateway.cases.wake()
        return json_response(EnableOut(system=name, deliveries_pending_again=n))

    table.add("GET", "/api/case-systems", list_systems, roles={"supervisor", "auditor", "admin"},
              response=CaseSystemsOut, summary="The configured case systems, whether disabled (410) and why, and "
              "their deliveries by state")
    table.add("POST", "/api/case-systems/{name}/enable", enable_system, roles={"supervisor", "admin"},
              response=EnableOut, summary="Enable a system a 410 disabled; its disabled deliveries are sent again "
              "(same webhook-ids)")


def _enable_in_thread(ctx: ApiContext, name: str) -> int | None:
    if ctx.sync_pool is None:
        raise error(503, "no_store", "the API has no store connection for this")
    with ctx.sync_pool.connection() as conn:
        if name not in disabled_systems(conn):
            return None
        return enable_system(conn, name)
