"""Legal review (二审): a confirmed alert whose enforcement item needs it waits for a supervisor to approve or
reject it (a rejection says why). Four eyes: the legal reviewer is another person than the first reviewer who
confirmed it, judged by token and by the name a token is issued to (one person may hold an operator and a
supervisor token). An approved alert is ready for a case task; a rejected one is not, and stays rejected.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api.context import ApiContext
from api.errors import parse_body
from api.models import LegalReviewIn, ReviewDecisionOut, error
from api.review.core import SUPERVISORS, Decision, Step, run
from api.routes import RouteTable

_OUTCOME = {"approve": "approved", "reject": "rejected"}


def same_person(a_token: int, a_name: str, b_token: int, b_name: str) -> bool:
    return a_token == b_token or a_name.strip().casefold() == b_name.strip().casefold()


def _check(s: Step) -> None:
    row, code = s.row, s.row["clue_code"]
    if row["status"] != "confirmed":
        raise error(409, "not_awaiting_legal_review", f"alert {code} is {row['status']}; only a confirmed alert"
                    " waits for a legal review")
    if row["legal_review_required"] is False:
        raise error(409, "no_legal_review_needed", f"alert {code}'s enforcement item"
                    f" ({row['enforcement_item'] or 'none'}) needs no legal review; it was ready for a case task"
                    " when confirmed")
    if row["first_reviewer_token"] is None:
        raise error(409, "first_reviewer_unknown", f"alert {code} has no recorded first reviewer, so no legal"
                    " reviewer can be shown to be another person")
    if same_person(row["first_reviewer_token"], row["first_reviewer_name"], s.who.token_id, s.who.name):
        raise error(403, "four_eyes", f"the legal review of alert {code} must be made by another person than its"
                    f" first reviewer: {row['first_reviewer_name']!r} confirmed it (four-eyes principle)")


def _decision(body: LegalReviewIn) -> Decision:
    status = _OUTCOME[body.decision]

    def apply(s: Step) -> tuple[str, list[Any]]:
        return ("status = %s, legal_reviewer_token = %s, legal_reviewer_name = %s, legal_reviewed_at = %s,"
                " legal_review_reason = %s", [status, s.who.token_id, s.who.name, s.now, body.reason])

    def about(s: Step) -> dict[str, Any]:
        return {"first_reviewer": {"token_id": s.row["first_reviewer_token"], "name": s.row["first_reviewer_name"]}}

    return Decision("legal_review", _check, apply, {"outcome": body.decision, "reason": body.reason}, about=about)


def register(table: RouteTable, ctx: ApiContext) -> None:
    async def legal_review(request: web.Request) -> web.Response:
        body = await parse_body(request, LegalReviewIn)
        return await run(ctx, request, _decision(body))

    table.add("POST", "/api/alerts/{clue_code}/legal-review", legal_review, roles=SUPERVISORS, request=LegalReviewIn,
              response=ReviewDecisionOut,
              summary="Legal review of a confirmed alert: approve (ready for a case task) or reject with a reason;"
                      " 403 four_eyes when the caller is its first reviewer")
