"""SQL for alerts: open a clue (with a clue code), update, end, and what a restart needs back.

Every source writes the same rows through `Clue`; what only one source knows is in the validated `detail`."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, is_dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from detectors.sensors.alerts import AlertEvent, OpenAlert
from gateway.alerts.clues import Clue
from gateway.alerts.naming import clue_code


@dataclass(frozen=True)
class AlertContext:
    """What the event does not know but the alert row must say: where, and whose case it is."""

    subject_code: str  # 'unassigned' when the device lies outside every jurisdiction
    subject_name: str | None
    enforcement_item: str | None
    lon: float | None
    lat: float | None
    tz: str = "Asia/Shanghai"


_COLUMNS = (
    "clue_code, engine_alert_id, source, kind, rule_id, device_id, zone_id, subject_code, subject_name,"
    " enforcement_item, lon, lat, start_time, peak_time, severity, admissible, inadmissible_reasons,"
    " evidence_open_idx, detail, category"
)


def next_clue_code(conn: psycopg.Connection, subject_code: str, at: datetime, tz: str) -> str:
    day = at.astimezone(ZoneInfo(tz)).date()
    seq = conn.execute(
        "INSERT INTO clue_sequences (subject_code, day, last) VALUES (%s, %s, 1)"
        " ON CONFLICT (subject_code, day) DO UPDATE SET last = clue_sequences.last + 1 RETURNING last",
        (subject_code, day),
    ).fetchone()[0]
    return clue_code(subject_code, day, seq)


def insert_open(conn: psycopg.Connection, clue: Clue, ctx: AlertContext, code: str,
                evidence_idx: int | None) -> dict:
    values = (
        code, clue.source_key, clue.source, clue.kind, clue.rule_id, clue.device_id, clue.zone_id, ctx.subject_code,
        ctx.subject_name, ctx.enforcement_item, ctx.lon, ctx.lat, clue.start, clue.peak_time, clue.severity,
        clue.admissible, list(clue.inadmissible_reasons), evidence_idx, Jsonb(clue.detail), clue.category,
    )
    marks = ", ".join(["%s"] * len(values))
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"INSERT INTO alerts ({_COLUMNS}) VALUES ({marks}) RETURNING *", values).fetchone()


def current(conn: psycopg.Connection, source_key: str) -> dict | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM alerts WHERE engine_alert_id = %s FOR UPDATE",
                           (source_key,)).fetchone()


def apply_update(conn: psycopg.Connection, clue: Clue) -> dict | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "UPDATE alerts SET peak_time = %s, severity = %s, admissible = %s, inadmissible_reasons = %s,"
            " detail = %s || jsonb_strip_nulls(jsonb_build_object('clip_evidence_idx', detail->'clip_evidence_idx')),"
            " updated_at = now() WHERE engine_alert_id = %s RETURNING *",
            (clue.peak_time, clue.severity, clue.admissible, list(clue.inadmissible_reasons), Jsonb(clue.detail),
             clue.source_key),
        ).fetchone()


def apply_end(conn: psycopg.Connection, clue: Clue, end_reason: str | None, evidence_idx: int | None) -> dict | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "UPDATE alerts SET peak_time = %s, severity = %s,"
            " detail = %s || jsonb_strip_nulls(jsonb_build_object('clip_evidence_idx', detail->'clip_evidence_idx')),"
            " end_time = %s, end_reason = %s,"
            " evidence_end_idx = %s, updated_at = now()"
            " WHERE engine_alert_id = %s AND end_time IS NULL RETURNING *",
            (clue.peak_time, clue.severity, Jsonb(clue.detail), clue.end, end_reason, evidence_idx, clue.source_key),
        ).fetchone()


def end_unbound(conn: psycopg.Connection, alert: OpenAlert, at: datetime) -> dict | None:
    """Close an alert whose rule no longer applies (disabled or re-bound) so it does not stay open forever."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "UPDATE alerts SET end_time = %s, end_reason = 'rule_unbound', updated_at = now()"
            " WHERE engine_alert_id = %s AND end_time IS NULL RETURNING *", (at, alert.alert_id)
        ).fetchone()


# Serialises alert-change writers until their commit, so alert_changes ids are allocated in commit order.
ALERT_CHANGES_LOCK_KEY = 0x656E_6667_7702
CHANGES_CHANNEL = "enforcegw_alert_changes"


def record_change(conn: psycopg.Connection, type_: str, row: dict, review: dict | None = None) -> int:
    """Append the change to `alert_changes` inside the caller's transaction (call it last: the lock it takes
    is held until commit) and NOTIFY listeners at commit; returns the change id. One round trip: the payload
    is the stored row as jsonb, plus `review` for a review decision."""
    return conn.execute(
        "WITH l AS (SELECT pg_advisory_xact_lock(%s))"
        " INSERT INTO alert_changes (alert_id, clue_code, type, payload)"
        " SELECT a.id, a.clue_code, %s, (to_jsonb(a) - 'engine_alert_id') || coalesce(%s::jsonb, '{}'::jsonb)"
        " FROM alerts a, l WHERE a.id = %s"
        f" RETURNING id, pg_notify('{CHANGES_CHANNEL}', id::text)",
        (ALERT_CHANGES_LOCK_KEY, type_, None if review is None else Jsonb({"review": review}), row["id"]),
    ).fetchone()[0]


def load_open(conn: psycopg.Connection) -> list[OpenAlert]:
    rows = conn.execute(
        "SELECT engine_alert_id, device_id, rule_id, zone_id, start_time, (detail->>'peak_value')::float8,"
        " peak_time FROM alerts WHERE end_time IS NULL AND source = 'sensor'"
    ).fetchall()
    return [OpenAlert(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows]


def recent_readings(conn: psycopg.Connection, device_id: str, since: datetime) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT time, device_id, metric, value, seq FROM readings WHERE device_id = %s AND time > %s ORDER BY time",
        (device_id, since),
    ).fetchall()


def public_view(row: dict) -> dict:
    """The alert as published: the row without the engine's internal id (the publisher encodes datetimes)."""
    return {k: v for k, v in row.items() if k != "engine_alert_id"}


def event_record(ev: AlertEvent) -> dict[str, Any]:
    """The event as plain JSON values, window readings included: enough to store or replay it by hand."""
    out: dict[str, Any] = {f.name: _plain(getattr(ev, f.name)) for f in fields(ev) if f.name != "readings"}
    out["readings"] = [{"time": _plain(r.time), "device_id": r.device_id, "metric": r.metric,
                        "value": _plain(r.value), "seq": r.seq} for r in ev.readings]
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # JSON (and jsonb) has no NaN or infinity
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if is_dataclass(v) and not isinstance(v, type):  # what an event's value rests on (coverage, background, ...)
        return {k: _plain(x) for k, x in asdict(v).items()}
    return v


def record_failure(conn: psycopg.Connection, ev: AlertEvent, attempts: int, error: str) -> int:
    """Keep an event that could not be stored (the dead letter of the alert pipeline); returns its id."""
    record = event_record(ev)
    return conn.execute(
        "INSERT INTO alert_failures (event_type, engine_alert_id, device_id, rule_id, attempts, error, event)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (ev.type, ev.alert_id, ev.device_id, ev.rule_id, attempts, error, Jsonb(record)),
    ).fetchone()[0]
