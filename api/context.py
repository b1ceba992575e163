"""What every API handler may use, built once by `api.server.mount` and handed to each module's
`register(table, ctx)`; and who is calling, set on each request by the access check (api/auth.py).

Handlers reach the store through `ctx.pool` (an async psycopg pool, opened when the HTTP server starts and
closed when it stops), never by opening their own connections per request. Its connections are in autocommit:
a handler that changes state wraps its statements in `async with conn.transaction():`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
from aiohttp import web
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from gateway.config import Settings
from gateway.metrics import Metrics
from gateway.store.audit_log import AuditEntry

if TYPE_CHECKING:
    from evidence.log import EvidenceLog
    from gateway.app import Gateway

# Called inside a review decision's transaction when the decision makes the alert ready for a case task
# (approved, or confirmed where no legal review is needed), before the decision's change is recorded: the
# connection, the alert row as the decision left it, and the decision as recorded (with its evidence_idx).
# Whatever it writes commits or rolls back with the decision. Gateway code provides these (case tasks); the
# type is only a signature, so providing one needs no import of api/.
OnReady = Callable[[psycopg.Connection, dict[str, Any], dict[str, Any]], None]


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
    # Sync connections (autocommit) for work that must run on one in a worker thread: review decisions append
    # to the evidence log inside their transaction. Opened and closed with the server, like `pool`.
    sync_pool: ConnectionPool | None = None
    on_ready: list[OnReady] = field(default_factory=list)
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
    without it the row names the route's path and the HTTP status. `recorded=True` says the handler wrote the
    row itself, inside the transaction of what it did, so the server writes none."""
    request.setdefault(AUDIT_KEY, {}).update(fields)


def audit_entry(request: web.Request, who: Principal | None, *, result: str, status: int) -> AuditEntry:
    """The audit row for this request by `who`: the route, and the target and result its handler noted."""
    note = request.get(AUDIT_KEY, {})
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else request.path
    return AuditEntry(action=f"{request.method} {route}", target=str(note.get("target") or request.path),
                      result=str(note.get("result") or result), status=status, address=request.remote,
                      token_id=who.token_id if who else None, token_name=who.name if who else None,
                      role=who.role if who else None)
