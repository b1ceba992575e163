"""The console API's read side on a bare aiohttp app (routes straight from the route table, no auth), with a
real store and evidence log: for tests of handlers apart from the server's middleware."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from api.context import ApiContext
from api.errors import ApiError
from api.routes import RouteTable
from evidence.config import EvidenceConfig
from evidence.log import EvidenceLog
from gateway.config import Settings
from gateway.metrics import Metrics

ORIGIN = "evidence.test.example/api"
Register = Callable[[RouteTable, ApiContext], object]


@web.middleware
async def _api_errors(request: web.Request, handler: Callable) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()


def app_from_table(table: RouteTable) -> web.Application:
    """The table's routes with only the JSON error answer of the server's middleware (no access check)."""
    app = web.Application(middlewares=[_api_errors])
    for r in table.routes:
        app.router.add_route(r.method, r.path, r.handler)
    return app


@contextlib.asynccontextmanager
async def read_context(db_url: str, data_dir: Path) -> AsyncIterator[ApiContext]:
    log = EvidenceLog.open(db_url, EvidenceConfig(origin=ORIGIN), data_dir)
    pool = AsyncConnectionPool(db_url, min_size=1, max_size=8, open=False)
    await pool.open()
    try:
        yield ApiContext(settings=Settings(data_dir=data_dir), database_url=db_url, pool=pool, metrics=Metrics(),
                         evidence=log)
    finally:
        await pool.close()
        log.close()


@contextlib.asynccontextmanager
async def read_client(db_url: str, data_dir: Path, *modules: Register) -> AsyncIterator[tuple[TestClient, ApiContext]]:
    async with read_context(db_url, data_dir) as ctx:
        table = RouteTable()
        for register in modules:
            register(table, ctx)
        client = TestClient(TestServer(app_from_table(table)))
        await client.start_server()
        try:
            yield client, ctx
        finally:
            await client.close()


def add_device(db_url: str, device_id: str, **cols: object) -> None:
    values = {"id": device_id, "kind": "sensor", "name": device_id, **cols}
    names = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    with psycopg.connect(db_url) as conn:
        conn.execute(f"INSERT INTO devices ({names}) VALUES ({marks})",
                     [Jsonb(v) if isinstance(v, dict) else v for v in values.values()])


def add_alert(conn: psycopg.Connection, code: str, device_id: str, start: datetime, **cols: object) -> dict:
    """An alert row as the alert service writes it (sensor detail), with its 'new' change."""
    from psycopg.rows import dict_row

    from gateway.alerts.store import record_change

    detail = {"standard": "GB 12523-2025", "clause": "4.1", "metric": "LAeq", "unit": "dB(A)", "averaging": "leq",
              "window_s": 1200.0, "comparison": "gt", "limit_value": 55.0, "limit_low": None, "peak_value": 66.0,
              "last_value": 60.0}
    values: dict[str, object] = {
        "clue_code": code, "engine_alert_id": f"eng-{code}", "source": "sensor", "kind": "construction_noise",
        "rule_id": "gb12523_2025.night.laeq", "device_id": device_id, "subject_code": "440605",
        "start_time": start, "peak_time": start + timedelta(minutes=1), "end_time": start + timedelta(minutes=10),
        "end_reason": "cleared", "severity": "major", "admissible": True,
        "detail": detail, **cols}
    names = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"INSERT INTO alerts ({names}) VALUES ({marks}) RETURNING *",
                          [Jsonb(v) if isinstance(v, dict) else v for v in values.values()]).fetchone()
        record_change(conn, "new", row)
    return row
