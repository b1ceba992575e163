"""A review decision in one transaction: the alert row under its lock, the decision's check and change, the audit
row of the request, the hooks that run when the alert becomes ready for a case task, an evidence entry of type
`review` naming the reviewer and the alert's own evidence entries (index and leaf hash), then the `review`
change on the stream (record_change last: it takes the change-order lock).

The evidence log appends on a sync connection, so a decision runs in a worker thread on a connection of the
context's sync pool rather than on the async pool. Statements that need no lock shared with other decisions
come before the append: the append lock and the change-order lock are held until commit, so the time between
taking them and committing bounds decisions per second.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from aiohttp import web
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from api.context import ApiContext, OnReady, Principal, audit_entry, audit_note, principal
from api.models import AlertOut, ReviewDecisionOut, error, json_response
from evidence.entry import Entry
from evidence.log import EvidenceLog
from gateway.alerts.store import record_change
from gateway.store.audit_log import AuditEntry, record_sync

REVIEWERS = frozenset({"operator", "supervisor"})
SUPERVISORS = frozenset({"supervisor"})


@dataclass(frozen=True)
class Step:
    """What a decision's check and change see: the alert as locked (before the decision), who decides, when."""

    conn: psycopg.Connection
    row: dict[str, Any]
    who: Principal
    now: datetime


Check = Callable[[Step], None]  # raises the API error that refuses the decision
Apply = Callable[[Step], tuple[str, list[Any]]]  # what the decision does to the row: SET clause and parameters
About = Callable[[Step], dict[str, Any]]  # more to record, from the row before the change


@dataclass(frozen=True)
class Decision:
    name: str  # the `decision` recorded: claim, release, confirm, dismiss, legal_review, override, reassign
    check: Check
    apply: Apply
    detail: dict[str, Any] = field(default_factory=dict)  # recorded with it (reason, note, ...)
    about: About | None = None
    index_column: str | None = None  # an alerts column that keeps the decision's own evidence index


def person(who: Principal) -> dict[str, Any]:
    return {"token_id": who.token_id, "name": who.name, "role": who.role}


def holder(row: dict, now: datetime) -> int | None:
    """The token holding the alert now, or None (nobody, or the lease has run out)."""
    if row["claimed_by_token"] is None or row["claim_expires_at"] <= now:
        return None
    return row["claimed_by_token"]


def refuse_other_holder(row: dict, who: Principal, now: datetime) -> None:
    current = holder(row, now)
    if current is not None and current != who.token_id:
        raise error(409, "claimed_by_other", f"alert {row['clue_code']} is claimed by {row['claimed_by_name']!r}"
                    f" until {row['claim_expires_at'].isoformat()}")


def require_holder(row: dict, who: Principal, now: datetime) -> None:
    if holder(row, now) == who.token_id:
        return
    refuse_other_holder(row, who, now)
    if row["claimed_by_token"] == who.token_id:
        raise error(409, "claim_expired", f"your claim on alert {row['clue_code']} has expired; claim it again")
    raise error(409, "not_claimed", f"claim alert {row['clue_code']} before deciding on it")


def _evidence_refs(conn: psycopg.Connection, row: dict) -> list[dict[str, Any]]:
    """The alert's own evidence entries the decision rests on (its opening and end, and a supervisor's override
    of its inadmissibility): their leaf index, role and leaf hash."""
    wanted = [(role, row[col]) for role, col in (("open", "evidence_open_idx"), ("end", "evidence_end_idx"),
                                                 ("override", "override_evidence_idx")) if row[col] is not None]
    if not wanted:
        return []
    hashes = dict(conn.execute("SELECT idx, leaf_hash FROM evidence_entries WHERE idx = ANY(%s)",
                               ([idx for _, idx in wanted],)).fetchall())
    return [{"index": idx, "role": role, "leaf_hash": bytes(hashes[idx]).hex() if idx in hashes else None}
            for role, idx in wanted]


def decide(pool: ConnectionPool, log: EvidenceLog, code: str, who: Principal, decision: Decision, *,
           audit: AuditEntry | None = None, on_ready: Sequence[OnReady] = ()) -> ReviewDecisionOut:
    """One decision in one transaction (sync: run it in a thread). A refusal raises before anything is written."""
    now = datetime.now(UTC)
    with pool.connection() as conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM alerts WHERE clue_code = %s FOR UPDATE", (code,)).fetchone()
        if row is None:
            raise error(404, "not_found", f"no alert {code!r}")
        step = Step(conn, row, who, now)
        decision.check(step)
        about = decision.about(step) if decision.about is not None else {}
        sets, params = decision.apply(step)
        after = cur.execute(f"UPDATE alerts SET {sets}, updated_at = now() WHERE id = %s RETURNING *",
                            [*params, row["id"]]).fetchone()
        if audit is not None:
            record_sync(conn, audit)
        refs = _evidence_refs(conn, after)
        review = {"decision": decision.name, **decision.detail, **about, "status": after["status"],
                  "time": now.isoformat(), "reviewer": person(who), "alert_evidence": refs}
        entry = Entry(entry_type="review", device_id=f"operator:{who.name}", capture_time=now,
                      time_source="gateway", refs=[r["index"] for r in refs],
                      payload={"clue_code": code, "alert_id": after["id"], **review})
        (appended,) = log.append_with(conn, [entry])
        review["evidence_idx"] = appended.index
        if decision.index_column is not None:
            after = cur.execute(f"UPDATE alerts SET {decision.index_column} = %s WHERE id = %s RETURNING *",
                                (appended.index, row["id"])).fetchone()
        if after["case_ready"] and not row["case_ready"]:
            for hook in on_ready:
                hook(conn, after, review)
        change_id = record_change(conn, "review", after, review=review)
    return ReviewDecisionOut(alert=AlertOut.model_validate(after), review=review, evidence_index=appended.index,
                             change_id=change_id)


async def run(ctx: ApiContext, request: web.Request, decision: Decision) -> web.Response:
    """Decide on the alert of the request's path as its caller; the audit row commits with the decision, and a
    refused decision leaves the server to write its row."""
    who = principal(request)
    assert who is not None  # the access check lets no anonymous caller through
    if ctx.evidence is None or ctx.sync_pool is None:
        raise error(503, "no_evidence_log", "this gateway has no evidence log to record decisions in")
    code = request.match_info["clue_code"]
    if "\x00" in code:  # PostgreSQL refuses a NUL in a parameter; no clue code holds one
        raise error(404, "not_found", f"no alert {code!r}")
    audit_note(request, target=f"alert:{code}")
    audit = audit_entry(request, who, result=decision.name, status=200)
    out = await asyncio.to_thread(decide, ctx.sync_pool, ctx.evidence, code, who, decision, audit=audit,
                                  on_ready=tuple(ctx.on_ready))
    audit_note(request, recorded=True)
    return json_response(out)
