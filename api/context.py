"""What every API handler may use, built once by `api.server.mount` and handed to each module's
`register(table, ctx)`; and who is calling, set on each request by the access check (api/auth.py).

Handlers reach the store through `ctx.pool` (an async psycopg pool, opened when the HTTP server starts and
closed when it stops), never by opening their own connections per request. Its connections are in autocommit:
a handler that changes state wraps its statements in `async with conn.transaction():`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web
from psycopg_pool import AsyncConnectionPool

from gateway.config import Settings
from gateway.metrics import Metrics

if TYPE_CHECKING:
    from evidence.log import EvidenceLog
    from gateway.app import Gateway



@dataclass(frozen=True)
class Principal:
    """The token a request was made with: `token_id` is the stable reviewer identity (four eyes compare it)."""

    token_id: int
    name: str
    role: str


@dataclass
class ApiContext:
    settings: Settings
    database_url: str
    pool: AsyncConnectionPool
    metrics: Metrics
    evidence: EvidenceLog | None = None
    gateway: Gateway | None = None  # the running gateway (alerts service, zones...), for what the fields lack
    # Set when the server shuts down: long-lived responses (the SSE stream) end at once instead of holding the
    # stop until their next heartbeat finds the client gone.
    closing: asyncio.Event = field(default_factory=asyncio.Event)


# request[PRINCIPAL_KEY]: the caller (None on a PUBLIC route); request[AUDIT_KEY]: what audit_note() collected.
PRINCIPAL_KEY = web.RequestKey("enforcegw.principal", Principal | None)
AUDIT_KEY = web.RequestKey("enforcegw.audit", dict[str, Any])


def principal(request: web.Request) -> Principal | None:
    """The caller of a token-protected route (never None there: the access check refused it otherwise)."""
    return request.get(PRINCIPAL_KEY)


def audit_note(request: web.Request, **fields: Any) -> None:
    """Say what a state-changing request acted on (`target=`) and how it ended (`result=`) for its audit row;
    without it the row names the route's path and the HTTP status."""
    request.setdefault(AUDIT_KEY, {}).update(fields)
