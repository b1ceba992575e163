"""Writes ingest batches in one transaction: COPY into session-local staging tables, then one
INSERT ... ON CONFLICT DO NOTHING into the real tables, so redelivered messages are stored once.

Runs on a plain (sync) psycopg connection owned by the ingest writer thread: COPY from a thread does not
compete with the asyncio loop that serves HTTP and runs the rule engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from ingest.models import DeadLetter, Pose, Reading

_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS readings_in (LIKE readings INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS poses_in (LIKE poses INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
"""
_READING_COLS = "time, device_id, metric, value, seq, received_at"
_POSE_COLS = (
    "time, device_id, lat, lon, has_fix, alt_rel_m, alt_abs_m, yaw, pitch, roll, gimbal_yaw, gimbal_pitch,"
    " gimbal_roll, hfov_deg, source, gateway_sn, extra, received_at"
)


@dataclass
class WriteResult:
    readings_stored: int = 0
    readings_duplicate: int = 0
    poses_stored: int = 0
    poses_duplicate: int = 0
    dead_letters: int = 0


def prepare(conn: psycopg.Connection) -> None:
    """Create this session's staging tables (once per connection)."""
    with conn.transaction():
        conn.execute(_STAGING)


def _now() -> datetime:
    return datetime.now(UTC)


def write_batch(
    conn: psycopg.Connection,
    readings: list[Reading],
    poses: list[Pose],
    dead_letters: list[DeadLetter],
) -> WriteResult:
    """Store one batch atomically; duplicates of rows already stored are counted, not errors."""
    result = WriteResult()
    now = _now()
    with conn.transaction(), conn.cursor() as cur:
        if readings:
            with cur.copy(f"COPY readings_in ({_READING_COLS}) FROM STDIN") as cp:
                for r in readings:
                    cp.write_row((r.time, r.device_id, r.metric, r.value, r.seq, r.received_at or now))
            cur.execute(f"INSERT INTO readings ({_READING_COLS}) SELECT {_READING_COLS} FROM readings_in"
                        " ON CONFLICT DO NOTHING")
            result.readings_stored = cur.rowcount
            result.readings_duplicate = len(readings) - cur.rowcount
        if poses:
            with cur.copy(f"COPY poses_in ({_POSE_COLS}) FROM STDIN") as cp:
                for p in poses:
                    cp.write_row(_pose_row(p, now))
            cur.execute(f"INSERT INTO poses ({_POSE_COLS}) SELECT {_POSE_COLS} FROM poses_in ON CONFLICT DO NOTHING")
            result.poses_stored = cur.rowcount
            result.poses_duplicate = len(poses) - cur.rowcount
        if dead_letters:
            write_dead_letters(cur, dead_letters, now)
            result.dead_letters = len(dead_letters)
    return result


def write_dead_letters(cur: psycopg.Cursor, dead_letters: list[DeadLetter], now: datetime | None = None) -> None:
    now = now or _now()
    with cur.copy("COPY dead_letters (received_at, topic, reason, detail, payload) FROM STDIN") as cp:
        for d in dead_letters:
            # Text COPY cannot carry NUL bytes inside text columns; the payload is bytea and safe.
            cp.write_row((d.received_at or now, d.topic, d.reason, d.detail.replace("\x00", "\\0"), d.payload))


def _pose_row(p: Pose, now: datetime) -> tuple:
    return (
        p.time, p.device_id, p.lat, p.lon, p.has_fix, p.alt_rel_m, p.alt_abs_m, p.yaw, p.pitch, p.roll,
        p.gimbal_yaw, p.gimbal_pitch, p.gimbal_roll, p.hfov_deg, p.source, p.gateway_sn,
        json.dumps(p.extra, default=str), p.received_at or now,
    )
