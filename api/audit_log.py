"""`GET /api/audit-log`: every state-changing request, allowed or refused, oldest first, for auditors and
supervisors. Paged by an opaque cursor (`next_cursor` of one page is `cursor` of the next; null: no more)."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from api.context import ApiContext
from api.errors import parse_query
from api.routes import RouteTable
from gateway.store.audit_log import page


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cursor: str | None = Field(None, pattern=r"^[0-9]{1,19}$", description="next_cursor of the previous page")
    limit: int = Field(100, ge=1, le=1000, description="rows per page")


class AuditItem(BaseModel):
    id: int
    time: datetime
    token_id: int | None
    token_name: str | None
    role: str | None
    action: str = Field(description="method and route, e.g. POST /api/alerts/{clue_code}/claim")
    target: str
    result: str = Field(description="allowed, or refused_unauthenticated / refused_forbidden / refused_rate_limited")
    status: int
    address: str | None


class AuditPage(BaseModel):
    items: list[AuditItem]
    next_cursor: str | None


def register(table: RouteTable, ctx: ApiContext) -> None:
    async def audit_log(request: web.Request) -> web.Response:
        q = parse_query(request, AuditQuery)
        after = 0 if q.cursor is None else int(q.cursor)
        async with ctx.pool.connection() as conn:
            rows = await page(conn, after_id=after, limit=q.limit)
        items = [AuditItem(**r.__dict__) for r in rows]
        body = AuditPage(items=items, next_cursor=str(rows[-1].id) if len(rows) == q.limit else None)
        return web.json_response(text=body.model_dump_json())

    table.add("GET", "/api/audit-log", audit_log, roles={"auditor", "supervisor"},
              summary="The audit log of state-changing requests, allowed or refused (cursor-paged).",
              request=AuditQuery, response=AuditPage)
