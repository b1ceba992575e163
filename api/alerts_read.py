"""The queue: `GET /api/alerts` (filtered, cursor-paged by id descending) and `GET /api/alerts/{clue_code}`
(the alert with everything a reviewer needs on one screen: device, zone, subject, the window as chart data,
evidence entries with inclusion proofs, media links and the review history)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from psycopg.rows import dict_row

from api.context import ApiContext, principal
from api.models import (
    CURSOR,
    AlertDetailOut,
    AlertOut,
    AlertPage,
    AlertQuery,
    ChartOut,
    DeviceOut,
    EvidenceRefOut,
    InclusionProofOut,
    MediaLink,
    ReviewOut,
    SubjectOut,
    ZoneOut,
    error,
    json_response,
)
from api.routes import QUEUE_READERS, SEALED_READERS, RouteTable
from evidence.log import EvidenceLog, NotCheckpointed

MAX_LIMIT = 200
MAX_POINTS = 5000
_ENUMS = {"status": ("new", "in_review", "confirmed", "dismissed", "approved", "rejected"),
          "source": ("sensor", "video", "manual"), "category": ("violation", "quality_exceedance")}
# queue parameter -> the predicate of that work list (each has a partial index, migration 0093)
QUEUES = {"legal_review": "status = 'confirmed' AND legal_review_required IS NOT FALSE",
          "case_ready": "case_ready"}
# query parameter -> column compared for equality
_EQUAL = {"status": "status", "kind": "kind", "source": "source", "category": "category", "subject": "subject_code",
          "device": "device_id", "zone": "zone_id"}


def encode_cursor(alert_id: int) -> str:
    return str(alert_id)


def decode_cursor(cursor: str) -> int:
    if not re.fullmatch(CURSOR, cursor):
        raise error(400, "bad_cursor", "cursor is not one this API returned", "cursor")
    return int(cursor)


def _time(q: Any, name: str) -> datetime | None:
    raw = q.get(name)
    if raw is None:
        return None
    try:
        t = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise error(400, "bad_time", f"{name} must be an ISO 8601 time", name) from exc
    if t.tzinfo is None:
        raise error(400, "bad_time", f"{name} must carry a UTC offset", name)
    return t


def list_query(q: Any) -> tuple[str, list[Any], int]:
    """SQL and parameters for one page of the queue; the query fetches limit+1 rows to know if more follow."""
    try:
        limit = int(q.get("limit", "50"))
    except ValueError as exc:
        raise error(400, "bad_limit", "limit must be an integer", "limit") from exc
    if not 1 <= limit <= MAX_LIMIT:
        raise error(400, "bad_limit", f"limit must be 1..{MAX_LIMIT}", "limit")
    where, params = [], []
    for name, column in _EQUAL.items():
        value = q.get(name)
        if value is None:
            continue
        if name in _ENUMS and value not in _ENUMS[name]:
            raise error(400, "bad_filter", f"{name} must be one of {', '.join(_ENUMS[name])}", name)
        if "\x00" in value:  # no stored code holds one, and PostgreSQL refuses it in a parameter
            raise error(400, "bad_filter", f"{name} must not contain a NUL character", name)
        where.append(f"{column} = %s")
        params.append(value)
    queue = q.get("queue")
    if queue is not None:
        if queue not in QUEUES:
            raise error(400, "bad_filter", f"queue must be one of {', '.join(QUEUES)}", "queue")
        where.append(QUEUES[queue])
    for name, op in (("from", ">="), ("to", "<")):
        t = _time(q, name)
        if t is not None:
            where.append(f"start_time {op} %s")
            params.append(t)
    order = q.get("order", "newest")
    if order not in ("newest", "oldest"):
        raise error(400, "bad_filter", "order must be newest or oldest", "order")
    if "cursor" in q:  # the next page continues past the cursor in the page's own order
        where.append("id < %s" if order == "newest" else "id > %s")
        params.append(decode_cursor(q["cursor"]))
    sql = ("SELECT * FROM alerts" + (" WHERE " + " AND ".join(where) if where else "")
           + (" ORDER BY id DESC" if order == "newest" else " ORDER BY id") + " LIMIT %s")
    return sql, [*params, limit + 1], limit


def register(table: RouteTable, ctx: ApiContext) -> None:
    async def list_alerts(request: web.Request) -> web.Response:
        sql, params, limit = list_query(request.query)
        async with ctx.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = await (await cur.execute(sql, params)).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return json_response(AlertPage(items=[AlertOut.model_validate(r) for r in rows],
                                       next=encode_cursor(rows[-1]["id"]) if more else None))

    async def get_alert(request: web.Request) -> web.Response:
        code = request.match_info["clue_code"]
        if "\x00" in code:
            raise error(404, "not_found", f"no alert {code!r}")
        async with ctx.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            alert = await (await cur.execute("SELECT * FROM alerts WHERE clue_code = %s", (code,))).fetchone()
            if alert is None:
                raise error(404, "not_found", f"no alert {code!r}")
            device = await (await cur.execute("SELECT * FROM devices WHERE id = %s",
                                              (alert["device_id"],))).fetchone()
            zone = None
            if alert["zone_id"] is not None:
                zone = await (await cur.execute("SELECT id, kind, name, subject_code FROM zones WHERE id = %s",
                                                (alert["zone_id"],))).fetchone()
            reviews = await (await cur.execute(
                "SELECT id AS change_id, time, payload->'review' AS review FROM alert_changes"
                " WHERE alert_id = %s AND type = 'review' ORDER BY id", (alert["id"],))).fetchall()
            chart = await _chart(cur, alert)
        evidence, media = await _evidence(ctx.evidence, alert)
        who = principal(request)
        if media and (who is None or who.role not in SEALED_READERS):  # they are given the renditions instead
            async with ctx.pool.connection() as conn:
                sealed = {r[0] for r in await (await conn.execute(
                    "SELECT sha256 FROM sealed_media WHERE sha256 = ANY(%s)", ([m.sha256 for m in media],)
                )).fetchall()}
            media = [m for m in media if m.sha256 not in sealed]
        return json_response(AlertDetailOut(
            alert=AlertOut.model_validate(alert), review_status=alert["status"],
            device=None if device is None else DeviceOut.model_validate(device),
            zone=None if zone is None else ZoneOut.model_validate(zone),
            subject=SubjectOut(code=alert["subject_code"], name=alert["subject_name"],
                               enforcement_item=alert["enforcement_item"]),
            chart=chart, evidence=evidence, media=media,
            reviews=[ReviewOut.model_validate(r) for r in reviews if r["review"] is not None]))

    table.add("GET", "/api/alerts", list_alerts, roles=QUEUE_READERS, request=AlertQuery, response=AlertPage,
              summary="The alert queue: filter by status, kind, source, category, subject, device, zone, from/to,"
                      " and queue (legal_review: confirmed, awaiting a legal review; case_ready: approved, or"
                      " confirmed needing none); cursor pages, newest first")
    table.add("GET", "/api/alerts/{clue_code}", get_alert, roles=QUEUE_READERS, response=AlertDetailOut,
              summary="One alert with its device, zone, subject, window readings, evidence proofs, media, reviews")


async def _chart(cur: Any, alert: dict) -> ChartOut:
    """The readings the alert rests on: its window before the start, through the end (or until now)."""
    detail = alert["detail"] or {}
    metric = detail.get("metric")
    points: list[tuple[datetime, float]] = []
    if metric is not None and alert["source"] == "sensor":
        since = alert["start_time"] - timedelta(seconds=float(detail.get("window_s") or 0))
        until = alert["end_time"] or datetime.now(alert["start_time"].tzinfo)
        rows = await (await cur.execute(
            "SELECT time, value FROM readings WHERE device_id = %s AND metric = %s AND time >= %s AND time <= %s"
            " ORDER BY time LIMIT %s", (alert["device_id"], metric, since, max(until, alert["peak_time"]),
                                        MAX_POINTS))).fetchall()
        points = [(r["time"], r["value"]) for r in rows]
    return ChartOut(metric=metric, unit=detail.get("unit"), limit=detail.get("limit_value"),
                    comparison=detail.get("comparison"), points=points)


async def _evidence(log: EvidenceLog | None, alert: dict) -> tuple[list[EvidenceRefOut], list[MediaLink]]:
    refs = [(role, alert[f"evidence_{role}_idx"]) for role in ("open", "end")
            if alert[f"evidence_{role}_idx"] is not None]
    clip = (alert.get("detail") or {}).get("clip_evidence_idx")
    if isinstance(clip, int):
        refs.append(("clip", clip))
    if log is None or not refs:
        return [], []
    return await asyncio.to_thread(_prove_all, log, refs)


def _prove_all(log: EvidenceLog, refs: list[tuple[str, int]]) -> tuple[list[EvidenceRefOut], list[MediaLink]]:
    out, media, seen = [], [], set()
    for role, index in refs:
        try:
            proof = log.prove(index)
        except NotCheckpointed as exc:
            out.append(EvidenceRefOut(index=index, role=role, leaf_hash=None, proof=None, pending=str(exc)))
        else:
            out.append(EvidenceRefOut(index=index, role=role, leaf_hash=proof.leaf_hash.hex(),
                                      proof=proof_out(proof)))
        for m in json.loads(log.entry(index)).get("media", []):
            if m["sha256"] not in seen:
                seen.add(m["sha256"])
                media.append(MediaLink(sha256=m["sha256"], role=m["role"], mime=m["mime"], size=m["size"],
                                       url=f"/api/media/{m['sha256']}"))
    return out, media


def proof_out(proof: Any) -> InclusionProofOut:
    return InclusionProofOut(size=proof.size, root=base64.b64encode(proof.root).decode(),
                             path=[base64.b64encode(h).decode() for h in proof.path],
                             checkpoint=proof.checkpoint_note)
