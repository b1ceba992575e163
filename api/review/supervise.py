"""What supervisors do to the first review besides judging it: override an alert's inadmissibility with a written
reason (Administrative Penalty Law art. 41: a record that failed review is no evidence unless someone answers for
using it), and hand a claim to another reviewer or back to the queue.

An override covers the inadmissible reasons the alert has when it is made, so a reason that appears later (a
further update of the alert) needs another override. It is kept on the alert (who, when, why, what it covers,
its evidence entry) and the confirmation that relies on it names it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from api.context import ApiContext
from api.errors import parse_body
from api.models import OverrideIn, ReassignIn, ReviewDecisionOut, error
from api.review.core import REVIEWERS, SUPERVISORS, Decision, Step, holder, run
from api.routes import RouteTable

_OPEN = ("new", "in_review")


def _check_override(s: Step) -> None:
    row, code = s.row, s.row["clue_code"]
    if row["status"] not in _OPEN:
        raise error(409, "already_decided", f"alert {code} is {row['status']}; an override is for an alert still"
                    " in first review")
    if row["admissible"]:
        raise error(409, "admissible", f"alert {code} is admissible; there is nothing to override")
    if set(row["inadmissible_reasons"] or ["unstated"]) <= set(row["override_reasons"] or ()):
        raise error(409, "already_overridden", f"alert {code} is already overridden by {row['override_name']!r}"
                    f" for {', '.join(row['override_reasons'])}")


def _override(body: OverrideIn) -> Decision:
    def apply(s: Step) -> tuple[str, list[Any]]:
        covers = list(s.row["inadmissible_reasons"]) or ["unstated"]
        # the index is set once the override's own entry is appended (Decision.index_column)
        return ("override_token = %s, override_name = %s, override_at = %s, override_reason = %s,"
                " override_reasons = %s, override_evidence_idx = NULL",
                [s.who.token_id, s.who.name, s.now, body.reason, covers])

    def about(s: Step) -> dict[str, Any]:
        return {"covers": list(s.row["inadmissible_reasons"]) or ["unstated"]}

    return Decision("override", _check_override, apply, {"reason": body.reason}, about=about,
                    index_column="override_evidence_idx")


def _reassign(body: ReassignIn, lease_s: float) -> Decision:
    target: dict[str, Any] = {}  # the token the claim goes to, read under the decision's transaction

    def check(s: Step) -> None:
        row, code = s.row, s.row["clue_code"]
        if row["status"] not in _OPEN:
            raise error(409, "already_decided", f"alert {code} is {row['status']}, not open for review")
        if body.token_id is None:
            if holder(row, s.now) is None:
                raise error(409, "not_claimed", f"nobody holds alert {code}; there is no claim to take back")
            return
        token = s.conn.execute(
            "SELECT id, name, role, revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())"
            " FROM api_tokens WHERE id = %s", (body.token_id,)).fetchone()
        # The body is well-formed; what refuses it is the token it names: not there (404), or not one a claim
        # can be given to as the tokens stand (409).
        if token is None:
            raise error(404, "unknown_token", f"there is no token {body.token_id}", field="token_id")
        if token[2] not in REVIEWERS:
            raise error(409, "not_a_reviewer", f"token {body.token_id} ({token[1]}) has role {token[2]}; a claim"
                        f" goes to an {' or '.join(sorted(REVIEWERS))}", field="token_id")
        if not token[3]:
            raise error(409, "token_inactive", f"token {body.token_id} ({token[1]}) is revoked or expired",
                        field="token_id")
        target.update(token_id=token[0], name=token[1], role=token[2])

    def apply(s: Step) -> tuple[str, list[Any]]:
        if not target:
            return ("status = 'new', claimed_by_token = NULL, claimed_by_name = NULL, claim_expires_at = NULL", [])
        return ("status = 'in_review', claimed_by_token = %s, claimed_by_name = %s, claim_expires_at = %s",
                [target["token_id"], target["name"], s.now + timedelta(seconds=lease_s)])

    def about(s: Step) -> dict[str, Any]:
        was = holder(s.row, s.now)
        return {"from": None if was is None else {"token_id": was, "name": s.row["claimed_by_name"]},
                "to": dict(target) or None, "lease_s": lease_s if target else None}

    return Decision("reassign", check, apply, about=about)


def register(table: RouteTable, ctx: ApiContext) -> None:
    lease_s = ctx.settings.api.review.lease_s

    async def override(request: web.Request) -> web.Response:
        body = await parse_body(request, OverrideIn)
        return await run(ctx, request, _override(body))

    async def reassign(request: web.Request) -> web.Response:
        body = await parse_body(request, ReassignIn)
        return await run(ctx, request, _reassign(body, lease_s))

    base = "/api/alerts/{clue_code}"
    table.add("POST", f"{base}/override", override, roles=SUPERVISORS, request=OverrideIn, response=ReviewDecisionOut,
              summary="Let an inadmissible alert be confirmed, with a written reason that becomes part of the record"
                      " (covers the reasons it is inadmissible for now)")
    table.add("POST", f"{base}/reassign", reassign, roles=SUPERVISORS, request=ReassignIn, response=ReviewDecisionOut,
              summary="Hand the alert's claim to another reviewer token (operator or supervisor, active) under a"
                      " fresh lease, or to nobody (token_id null: back in the queue)")
