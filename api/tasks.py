"""Case tasks through the API: the list (by delivery state, unrouted, system, subject, time) and one task with
its document and every delivery attempt, a supervisor's retry of failed deliveries, and the task's JSON Schema.
The receiver's acknowledgement is api/task_ack.py; the systems themselves api/case_systems.py."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Literal

import structlog
from aiohttp import web
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field

from api.alerts_read import decode_cursor, encode_cursor
from api.context import ApiContext, audit_note, principal
from api.errors import parse_body, parse_query
from api.filters import where_clauses
from api.models import CURSOR, error, json_response
from api.routes import PUBLIC, RouteTable
from gateway.cases.deliveries import retry_task
from gateway.cases.task import task_schema

log = structlog.get_logger(__name__)

TASK_READERS = frozenset({"supervisor", "auditor", "operator", "admin"})
DeliveryState = Literal["pending", "delivering", "delivered", "acknowledged", "push_failed", "disabled"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AttemptOut(_Out):
    n: int
    started_at: datetime
    latency_ms: float | None
    status: int | None
    error: str | None
    retry_after_s: float | None


class DeliveryOut(_Out):
    system: str
    webhook_id: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    receiver_ref: str | None
    ack_evidence_idx: int | None
    delivered_at: datetime | None
    acknowledged_at: datetime | None
    attempt_log: list[AttemptOut] | None = None


class TaskOut(_Out):
    id: int
    task_id: str
    clue_code: str
    subject_code: str
    item_code: str | None
    kind: str
    source: str
    created_at: datetime
    unrouted: bool
    deliveries: list[DeliveryOut]


class TaskDetailOut(TaskOut):
    document: dict[str, Any]


class TaskPage(_Out):
    items: list[TaskOut]
    next: str | None


class TaskQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: DeliveryState | Literal["unrouted"] | None = Field(default=None, description="A delivery in this state.")
    system: str | None = Field(default=None, max_length=200, description="Delivered to this case system.")
    subject: str | None = Field(default=None, max_length=200, description="Enforcement subject code.")
    clue_code: str | None = Field(default=None, max_length=200, description="The task of this clue.")
    from_: datetime | None = Field(default=None, alias="from", description="Made at or after (ISO 8601, offset).")
    to: datetime | None = Field(default=None, description="Made before (ISO 8601 with offset).")
    cursor: str | None = Field(default=None, pattern=CURSOR, description="`next` of the previous page.")
    limit: int = Field(default=50, ge=1, le=200, description="Page size.")


class RetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system: str | None = Field(default=None, max_length=200, description="Only this system (default: every "
                               "failed delivery of the task).")


class RetryOut(_Out):
    task_id: str
    systems: list[str]


_DELIVERY_COLS = ("system, webhook_id, state, attempts, next_attempt_at, last_attempt_at, last_status, last_error,"
                  " receiver_ref, ack_evidence_idx, delivered_at, acknowledged_at")


def _task_out(row: dict, deliveries: list[dict], model: type[TaskOut] = TaskOut) -> TaskOut:
    extra = {"document": row["document"]} if model is TaskDetailOut else {}
    return model(id=row["id"], task_id=row["task_id"], clue_code=row["clue_code"], subject_code=row["subject_code"],
                 item_code=row["item_code"], kind=row["kind"], source=row["source"], created_at=row["created_at"],
                 unrouted=row["destinations"] == 0, deliveries=[DeliveryOut.model_validate(d) for d in deliveries],
                 **extra)


def register(table: RouteTable, ctx: ApiContext) -> None:
    async def list_tasks(request: web.Request) -> web.Response:
        q = parse_query(request, TaskQuery)
        where, params = [], []
        if q.state == "unrouted":
            where.append("t.destinations = 0")
        elif q.state is not None or q.system is not None:
            where.append("EXISTS (SELECT 1 FROM case_deliveries d WHERE d.task_id = t.id"
                         " AND (%s::text IS NULL OR d.state = %s) AND (%s::text IS NULL OR d.system = %s))")
            params += [q.state, q.state, q.system, q.system]
        more_where, more_params = where_clauses((("t.subject_code", q.subject), ("t.clue_code", q.clue_code)),
                                                "t.created_at", q.from_, q.to)
        where += more_where
        params += more_params
        if q.cursor is not None:
            where.append("t.id < %s")
            params.append(decode_cursor(q.cursor))
        sql = ("SELECT t.* FROM case_tasks t" + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY t.id DESC LIMIT %s")
        async with ctx.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = await (await cur.execute(sql, [*params, q.limit + 1])).fetchall()
            more, rows = len(rows) > q.limit, rows[:q.limit]
            ds = await (await cur.execute(f"SELECT task_id AS t, {_DELIVERY_COLS} FROM case_deliveries"
                                          " WHERE task_id = ANY(%s) ORDER BY id", ([r["id"] for r in rows],))
                        ).fetchall()
        by_task: dict[int, list[dict]] = {}
        for d in ds:
            by_task.setdefault(d.pop("t"), []).append(d)
        return json_response(TaskPage(items=[_task_out(r, by_task.get(r["id"], [])) for r in rows],
                                      next=encode_cursor(rows[-1]["id"]) if more and rows else None))

    async def _load(task_id: str) -> tuple[dict, list[dict]]:
        async with ctx.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            row = await (await cur.execute("SELECT * FROM case_tasks WHERE task_id = %s", (task_id,))).fetchone()
            if row is None:
                raise error(404, "not_found", f"no task {task_id!r}")
            ds = await (await cur.execute(f"SELECT id, {_DELIVERY_COLS} FROM case_deliveries WHERE task_id = %s"
                                          " ORDER BY id", (row["id"],))).fetchall()
            attempts = await (await cur.execute(
                "SELECT delivery_id, n, started_at, latency_ms, status, error, retry_after_s FROM case_attempts"
                " WHERE delivery_id = ANY(%s) ORDER BY delivery_id, n", ([d["id"] for d in ds],))).fetchall()
        for d in ds:
            d["attempt_log"] = [AttemptOut.model_validate({k: v for k, v in a.items() if k != "delivery_id"})
                                for a in attempts if a["delivery_id"] == d["id"]]
            d.pop("id")
        return row, ds

    async def get_task(request: web.Request) -> web.Response:
        row, ds = await _load(request.match_info["task_id"])
        return json_response(_task_out(row, ds, TaskDetailOut))

    async def retry(request: web.Request) -> web.Response:
        task_id = request.match_info["task_id"]
        audit_note(request, target=f"task:{task_id}")
        body = await parse_body(request, RetryIn) if request.can_read_body else RetryIn()
        async with ctx.pool.connection() as conn:
            row = await (await conn.execute("SELECT id FROM case_tasks WHERE task_id = %s", (task_id,))).fetchone()
        if row is None:
            raise error(404, "not_found", f"no task {task_id!r}")
        systems = await asyncio.to_thread(_retry_in_thread, ctx, row[0], body.system)
        if not systems:
            raise error(409, "nothing_to_retry", f"task {task_id} has no failed delivery"
                        + (f" to {body.system}" if body.system else ""))
        who = principal(request)
        log.info("cases.retry", task=task_id, systems=systems, by=who.name if who else None)
        if ctx.gateway is not None and ctx.gateway.cases is not None:
            ctx.gateway.cases.wake()
        return json_response(RetryOut(task_id=task_id, systems=systems))

    async def schema(_request: web.Request) -> web.Response:
        return web.json_response(task_schema(), content_type="application/schema+json")

    table.add("GET", "/api/tasks", list_tasks, roles=TASK_READERS, request=TaskQuery, response=TaskPage,
              summary="Case tasks, newest first: filter by delivery state (or unrouted), system, subject, time")
    table.add("GET", "/api/tasks/{task_id}", get_task, roles=TASK_READERS, response=TaskDetailOut,
              summary="One task: its document and each delivery with every attempt (time, status, latency, error)")
    table.add("POST", "/api/tasks/{task_id}/retry", retry, roles={"supervisor"}, request=RetryIn, response=RetryOut,
              summary="Send a task's failed (push_failed) deliveries again, same webhook-id, fresh retry budget")
    table.add("GET", "/api/schemas/task.json", schema, roles=PUBLIC,
              summary="JSON Schema (2020-12) of the task document pushed to case systems")


def _retry_in_thread(ctx: ApiContext, task: int, system: str | None) -> list[str]:
    if ctx.sync_pool is None:
        raise error(503, "no_store", "the API has no store connection for this")
    with ctx.sync_pool.connection() as conn, conn.transaction():
        return retry_task(conn, task, system)
