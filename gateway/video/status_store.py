"""Stream status rows (`stream_status`, migration 0098): the gateway reading a stream writes them, the CLI and the
API read them. A row whose `updated_at` is older than STALE_AFTER_S belongs to a gateway that stopped reporting:
readers say so instead of showing its last state as current."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

STALE_AFTER_S = 30.0
COLUMNS = ("stream_id", "device_id", "url", "state", "since", "last_error", "frames_read", "frames_kept",
           "reconnects", "fps", "last_frame_at", "time_source", "detail", "reporter")


def reporter_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def write_statuses(conn: psycopg.Connection, rows: Iterable[dict[str, Any]], reporter: str) -> int:
    """Upsert one row per stream (dicts keyed like COLUMNS, `stream_id` as `id`); returns rows written."""
    values = []
    for r in rows:
        values.append((r["id"], r["device_id"], r["url"], r["state"], r["since"], r.get("last_error"),
                       r.get("frames_read", 0), r.get("frames_kept", 0), r.get("reconnects", 0), r.get("fps"),
                       r.get("last_frame_at"), r.get("time_source"), Jsonb(r.get("detail") or {}), reporter))
    if not values:
        return 0
    cols = ", ".join(COLUMNS)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[1:])
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO stream_status ({cols}) VALUES ({', '.join(['%s'] * len(COLUMNS))}) "
                        f"ON CONFLICT (stream_id) DO UPDATE SET {updates}, updated_at = now()", values)
    return len(values)


def read_statuses(conn: psycopg.Connection, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every stream row, with `reporting` False where its gateway has not written for STALE_AFTER_S."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(f"SELECT {', '.join(COLUMNS)}, updated_at FROM stream_status ORDER BY stream_id").fetchall()
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=STALE_AFTER_S)
    for r in rows:
        r["reporting"] = r["updated_at"] >= cutoff
    return rows
