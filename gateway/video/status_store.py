"""Stream status rows (`stream_status`, migration 0098): the gateway reading a stream writes them, the CLI and the
API read them. A row whose `updated_at` is older than STALE_AFTER_S belongs to a gateway that stopped reporting:
readers say so instead of showing its last state as current."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ingest.video.config import StreamConfig
from ingest.video.urls import mask_url

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


def stream_rows(streams: Sequence[StreamConfig], stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Configured streams joined with their stored status; a stored row for a stream no longer configured is
    kept (it says what a gateway with another config reads)."""
    by_id = {r["stream_id"]: r for r in stored}
    out: list[dict[str, Any]] = []
    for s in streams:
        r = by_id.pop(s.id, None)
        row: dict[str, Any] = {"id": s.id, "device_id": s.device_id, "camera": s.camera, "fps_target": s.fps,
                               "url": mask_url(s.url), "configured": True, "enabled": s.enabled}
        if not s.enabled:
            row["state"] = "disabled"
        elif r is None:
            row["state"] = "not_reported"
        else:
            row.update(_stored(r))
        out.append(row)
    for r in by_id.values():
        out.append({"id": r["stream_id"], "device_id": r["device_id"], "configured": False, "enabled": None,
                    "url": r["url"], **_stored(r)})
    return out


def _stored(r: dict[str, Any]) -> dict[str, Any]:
    state = r["state"] if r["reporting"] or r["state"] == "stopped" else f"{r['state']} (gateway not reporting)"
    return {"state": state, "since": r["since"], "last_error": r["last_error"], "frames_read": r["frames_read"],
            "frames_kept": r["frames_kept"], "reconnects": r["reconnects"], "fps": r["fps"],
            "last_frame_at": r["last_frame_at"], "time_source": r["time_source"], "reporter": r["reporter"],
            "updated_at": r["updated_at"], "detail": r["detail"]}
