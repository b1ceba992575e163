"""The audit log: one row per state-changing API request, allowed or refused, and its reading by id cursor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg


@dataclass(frozen=True)
class AuditEntry:
    action: str
    target: str
    result: str
    status: int
    address: str | None = None
    token_id: int | None = None
    token_name: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class AuditRow:
    id: int
    time: datetime
    token_id: int | None
    token_name: str | None
    role: str | None
    action: str
    target: str
    result: str
    status: int
    address: str | None


_COLUMNS = "id, time, token_id, token_name, role, action, target, result, status, address"


_INSERT = ("INSERT INTO audit_log (token_id, token_name, role, action, target, result, status, address)"
           " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id")


def _values(e: AuditEntry) -> tuple:
    return (e.token_id, e.token_name, e.role, e.action, e.target, e.result, e.status, e.address)


async def record(conn: psycopg.AsyncConnection, e: AuditEntry) -> int:
    cur = await conn.execute(_INSERT, _values(e))
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


def record_sync(conn: psycopg.Connection, e: AuditEntry) -> int:
    """`record` on a sync connection, e.g. inside a review decision's own transaction."""
    row = conn.execute(_INSERT, _values(e)).fetchone()
    assert row is not None
    return int(row[0])


async def page(conn: psycopg.AsyncConnection, *, after_id: int = 0, limit: int = 100) -> list[AuditRow]:
    """Rows with id > after_id, in id order: the last id returned is the next page's cursor."""
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM audit_log WHERE id > %s ORDER BY id LIMIT %s",
                             (after_id, limit))
    return [AuditRow(*r) for r in await cur.fetchall()]
