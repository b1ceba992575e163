"""First review: a reviewer claims an alert (`in_review` under a lease), then releases it back to `new`,
confirms it or dismisses it with a reason. Only the lease holder decides.

Every decision is one transaction: the row under its lock, an evidence entry of type `review` naming the
reviewer and the alert's own evidence entries (index and leaf hash), then the `review` change on the stream
(record_change last: it takes the change-order lock). The evidence log appends on a sync connection, so the
whole decision runs in a worker thread on its own connection rather than on the async pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from aiohttp import web
from psycopg.rows import dict_row

from api.context import ApiContext, Principal, audit_note, principal
from api.errors import parse_body
from api.models import AlertOut, ConfirmIn, DismissIn, ReviewDecisionOut, error, json_response
from api.routes import RouteTable
from evidence.entry import Entry
from evidence.log import EvidenceLog
from gateway.alerts.store import record_change

LEASE_S = 600.0  # how long a claim holds; read at each claim so tests can shorten it
REVIEWERS = frozenset({"operator", "supervisor"})
_OPEN = ("new", "in_review")  # the statuses a first review acts on

# What a decision does to the row once it is allowed: SET clause and its parameters.
Apply = Callable[[dict, Principal, datetime], tuple[str, list[Any]]]


def _holder(row: dict, now: datetime) -> int | None:
    """The token holding the alert now, or None (nobody, or the lease has run out)."""
    if row["claimed_by_token"] is None or row["claim_expires_at"] <= now:
        return None
    return row["claimed_by_token"]


def _require_holder(row: dict, who: Principal, now: datetime) -> None:
    holder = _holder(row, now)
    if holder == who.token_id:
        return
    if holder is not None:
        raise error(409, "claimed_by_other", f"alert {row['clue_code']} is claimed by {row['claimed_by_name']!r}"
                    f" until {row['claim_expires_at'].isoformat()}")
    if row["claimed_by_token"] == who.token_id:
        raise error(409, "claim_expired", f"your claim on alert {row['clue_code']} has expired; claim it again")
    raise error(409, "not_claimed", f"claim alert {row['clue_code']} before deciding on it")


def _evidence_refs(conn: psycopg.Connection, row: dict) -> list[dict[str, Any]]:
    """The alert's own evidence entries the decision rests on: their leaf index, role and leaf hash."""
    wanted = [(role, row[col]) for role, col in (("open", "evidence_open_idx"), ("end", "evidence_end_idx"))
              if row[col] is not None]
    if not wanted:
        return []
    hashes = dict(conn.execute("SELECT idx, leaf_hash FROM evidence_entries WHERE idx = ANY(%s)",
                               ([idx for _, idx in wanted],)).fetchall())
    return [{"index": idx, "role": role, "leaf_hash": bytes(hashes[idx]).hex() if idx in hashes else None}
            for role, idx in wanted]


def decide(database_url: str, log: EvidenceLog, code: str, who: Principal, decision: str,
           check: Callable[[dict, Principal, datetime], None], apply: Apply,
           detail: dict[str, Any]) -> ReviewDecisionOut:
    """One decision in one transaction (sync: run it in a thread)."""
    now = datetime.now(UTC)
    with psycopg.connect(database_url) as conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM alerts WHERE clue_code = %s FOR UPDATE", (code,)).fetchone()
        if row is None:
            raise error(404, "not_found", f"no alert {code!r}")
        check(row, who, now)
        sets, params = apply(row, who, now)
        row = cur.execute(f"UPDATE alerts SET {sets}, updated_at = now() WHERE id = %s RETURNING *",
                          [*params, row["id"]]).fetchone()
        refs = _evidence_refs(conn, row)
        review = {"decision": decision, **detail, "status": row["status"], "time": now.isoformat(),
                  "reviewer": {"token_id": who.token_id, "name": who.name, "role": who.role},
                  "alert_evidence": refs}
        entry = Entry(entry_type="review", device_id=f"operator:{who.name}", capture_time=now,
                      time_source="gateway", refs=[r["index"] for r in refs],
                      payload={"clue_code": code, "alert_id": row["id"], **review})
        (appended,) = log.append_with(conn, [entry])
        review["evidence_idx"] = appended.index
        change_id = record_change(conn, "review", row, review=review)
    return ReviewDecisionOut(alert=AlertOut.model_validate(row), review=review, evidence_index=appended.index,
                             change_id=change_id)


def _check_claim(row: dict, who: Principal, now: datetime) -> None:
    if row["status"] not in _OPEN:
        raise error(409, "already_decided", f"alert {row['clue_code']} is {row['status']}, not open for review")
    holder = _holder(row, now)
    if holder is not None and holder != who.token_id:
        raise error(409, "claimed_by_other", f"alert {row['clue_code']} is claimed by {row['claimed_by_name']!r}"
                    f" until {row['claim_expires_at'].isoformat()}")


def _check_held(row: dict, who: Principal, now: datetime) -> None:
    if row["status"] != "in_review":
        raise error(409, "not_claimed" if row["status"] == "new" else "already_decided",
                    f"alert {row['clue_code']} is {row['status']}, not in review")
    _require_holder(row, who, now)


def _check_confirmable(row: dict, who: Principal, now: datetime) -> None:
    _check_held(row, who, now)
    if row["category"] == "quality_exceedance":
        raise error(422, "not_a_case", "a quality exceedance is reported, never confirmed as a case; dismiss or"
                    " release it")
    if not row["admissible"]:
        reasons = ", ".join(row["inadmissible_reasons"]) or "unstated"
        raise error(422, "inadmissible", f"alert {row['clue_code']} is not admissible as evidence: {reasons}")


def _claim(_row: dict, who: Principal, now: datetime) -> tuple[str, list[Any]]:
    return ("status = 'in_review', claimed_by_token = %s, claimed_by_name = %s, claim_expires_at = %s",
            [who.token_id, who.name, now + timedelta(seconds=LEASE_S)])


def _to(status: str) -> Apply:
    def apply(_row: dict, _who: Principal, _now: datetime) -> tuple[str, list[Any]]:
        return ("status = %s, claimed_by_token = NULL, claimed_by_name = NULL, claim_expires_at = NULL", [status])
    return apply


async def _optional_body(request: web.Request, model: type[ConfirmIn]) -> ConfirmIn:
    return await parse_body(request, model) if request.can_read_body else model()


def register(table: RouteTable, ctx: ApiContext) -> None:
    async def run(request: web.Request, decision: str, check: Callable[[dict, Principal, datetime], None],
                  apply: Apply, detail: dict[str, Any]) -> web.Response:
        who = principal(request)
        assert who is not None  # the access check lets no anonymous caller through
        if ctx.evidence is None:
            raise error(503, "no_evidence_log", "this gateway has no evidence log to record decisions in")
        code = request.match_info["clue_code"]
        audit_note(request, target=f"alert:{code}")
        out = await asyncio.to_thread(decide, ctx.database_url, ctx.evidence, code, who, decision, check, apply,
                                      detail)
        audit_note(request, result=decision)
        return json_response(out)

    async def claim(request: web.Request) -> web.Response:
        return await run(request, "claim", _check_claim, _claim, {"lease_s": LEASE_S})

    async def release(request: web.Request) -> web.Response:
        return await run(request, "release", _check_held, _to("new"), {})

    async def confirm(request: web.Request) -> web.Response:
        body = await _optional_body(request, ConfirmIn)
        return await run(request, "confirm", _check_confirmable, _to("confirmed"), {"note": body.note})

    async def dismiss(request: web.Request) -> web.Response:
        body = await parse_body(request, DismissIn)
        return await run(request, "dismiss", _check_held, _to("dismissed"),
                         {"reason": body.reason, "text": body.text})

    base = "/api/alerts/{clue_code}"
    table.add("POST", f"{base}/claim", claim, roles=REVIEWERS, response=ReviewDecisionOut,
              summary=f"Take the alert into review under a lease ({LEASE_S:.0f} s); the holder claiming again"
                      " renews it; 409 while another reviewer holds it")
    table.add("POST", f"{base}/release", release, roles=REVIEWERS, response=ReviewDecisionOut,
              summary="Give a claimed alert back to the queue (status new); holder only")
    table.add("POST", f"{base}/confirm", confirm, roles=REVIEWERS, request=ConfirmIn, response=ReviewDecisionOut,
              summary="Confirm the alert as a case (holder only); 422 when inadmissible or a quality exceedance")
    table.add("POST", f"{base}/dismiss", dismiss, roles=REVIEWERS, request=DismissIn, response=ReviewDecisionOut,
              summary="Dismiss the alert with a reason (holder only)")
