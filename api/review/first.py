"""First review (一审): a reviewer claims an alert (`in_review` under a lease, `api.review.lease_s`), then releases
it back to `new`, confirms it or dismisses it with a configured reason. Only the lease holder decides.

Confirming keeps who confirmed and whether the alert's enforcement item needs a legal review, as configured at
that moment: the alert then waits for a supervisor's legal review (api/review/legal.py) or is ready for a case
task at once. An inadmissible alert is confirmed only after a supervisor's override (api/review/supervise.py)
that covers every reason it is inadmissible for. `GET /api/review/reasons` gives the console its reason picker.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from api.context import ApiContext
from api.errors import parse_body
from api.models import (
    ConfirmIn,
    ReasonOut,
    ReviewDecisionOut,
    ReviewReasonsOut,
    dismiss_in,
    error,
    json_response,
)
from api.review.core import REVIEWERS, About, Apply, Decision, Step, refuse_other_holder, require_holder, run
from api.routes import QUEUE_READERS, RouteTable
from gateway.config import Settings

_OPEN = ("new", "in_review")  # the statuses a first review acts on
_CLEAR_CLAIM = "claimed_by_token = NULL, claimed_by_name = NULL, claim_expires_at = NULL"


def _check_claim(s: Step) -> None:
    if s.row["status"] not in _OPEN:
        raise error(409, "already_decided", f"alert {s.row['clue_code']} is {s.row['status']}, not open for review")
    refuse_other_holder(s.row, s.who, s.now)


def _check_held(s: Step) -> None:
    if s.row["status"] != "in_review":
        raise error(409, "not_claimed" if s.row["status"] == "new" else "already_decided",
                    f"alert {s.row['clue_code']} is {s.row['status']}, not in review")
    require_holder(s.row, s.who, s.now)


def _check_confirmable(s: Step) -> None:
    _check_held(s)
    row = s.row
    if row["category"] == "quality_exceedance":
        raise error(422, "not_a_case", "a quality exceedance is reported, never confirmed as a case; dismiss or"
                    " release it")
    if row["admissible"]:
        return
    reasons = list(row["inadmissible_reasons"]) or ["unstated"]
    uncovered = [r for r in reasons if r not in (row["override_reasons"] or ())]
    if not uncovered:
        return
    named = ", ".join(uncovered)
    if row["override_token"] is not None:
        raise error(422, "inadmissible", f"alert {row['clue_code']} is not admissible as evidence: {named}, which"
                    f" the override by {row['override_name']!r} does not cover; a supervisor may override again")
    raise error(422, "inadmissible", f"alert {row['clue_code']} is not admissible as evidence: {named}; it can be"
                " confirmed only after a supervisor overrides that with a written reason")


def _claim(lease_s: float) -> Decision:
    def apply(s: Step) -> tuple[str, list[Any]]:
        return ("status = 'in_review', claimed_by_token = %s, claimed_by_name = %s, claim_expires_at = %s",
                [s.who.token_id, s.who.name, s.now + timedelta(seconds=lease_s)])
    return Decision("claim", _check_claim, apply, {"lease_s": lease_s})


def _release(s: Step) -> tuple[str, list[Any]]:
    return f"status = 'new', {_CLEAR_CLAIM}", []


def _first_decision(status: str, settings: Settings) -> Apply:
    """The change that ends a first review: the status, who decided, and for a confirmation whether the alert
    now waits for a legal review."""
    def apply(s: Step) -> tuple[str, list[Any]]:
        needs = settings.enforcement.needs_legal_review(s.row["enforcement_item"]) if status == "confirmed" else None
        return (f"status = %s, {_CLEAR_CLAIM}, first_reviewer_token = %s, first_reviewer_name = %s,"
                " first_reviewed_at = %s, legal_review_required = %s",
                [status, s.who.token_id, s.who.name, s.now, needs])
    return apply


def _confirm_record(settings: Settings) -> About:
    """What a confirmation records besides its note: the item and whether it needs a legal review, and the
    override it relies on, if any."""
    def about(s: Step) -> dict[str, Any]:
        code = s.row["enforcement_item"]
        item = settings.enforcement.items.get(code) if code is not None else None
        out: dict[str, Any] = {
            "legal_review_required": settings.enforcement.needs_legal_review(code),
            "enforcement_item": None if code is None else {
                "code": code, "name": item.name if item else None, "legal_basis": item.legal_basis if item else None}}
        if s.row["override_token"] is not None:
            out["override"] = {"by": {"token_id": s.row["override_token"], "name": s.row["override_name"]},
                               "at": s.row["override_at"].isoformat(), "reason": s.row["override_reason"],
                               "covers": list(s.row["override_reasons"]),
                               "evidence_idx": s.row["override_evidence_idx"]}
        return out
    return about


def register(table: RouteTable, ctx: ApiContext) -> None:
    config = ctx.settings.api.review
    reasons = config.dismiss_reasons
    dismiss_model = dismiss_in(list(reasons))

    async def claim(request: web.Request) -> web.Response:
        return await run(ctx, request, _claim(config.lease_s))

    async def release(request: web.Request) -> web.Response:
        return await run(ctx, request, Decision("release", _check_held, _release))

    async def confirm(request: web.Request) -> web.Response:
        body = await parse_body(request, ConfirmIn) if request.can_read_body else ConfirmIn()
        return await run(ctx, request, Decision("confirm", _check_confirmable,
                                                _first_decision("confirmed", ctx.settings), {"note": body.note},
                                                about=_confirm_record(ctx.settings)))

    async def dismiss(request: web.Request) -> web.Response:
        body = await parse_body(request, dismiss_model)
        return await run(ctx, request, Decision(
            "dismiss", _check_held, _first_decision("dismissed", ctx.settings),
            {"reason": body.reason, "reason_label": reasons[body.reason].model_dump(), "text": body.text}))

    async def review_reasons(_request: web.Request) -> web.Response:
        return json_response(ReviewReasonsOut(
            dismiss_reasons=[ReasonOut(code=c, zh=r.zh, en=r.en) for c, r in reasons.items()],
            lease_s=config.lease_s))

    base = "/api/alerts/{clue_code}"
    table.add("POST", f"{base}/claim", claim, roles=REVIEWERS, response=ReviewDecisionOut,
              summary=f"Take the alert into review under a lease ({config.lease_s:g} s); the holder claiming again"
                      " renews it; 409 while another reviewer holds it")
    table.add("POST", f"{base}/release", release, roles=REVIEWERS, response=ReviewDecisionOut,
              summary="Give a claimed alert back to the queue (status new); holder only")
    table.add("POST", f"{base}/confirm", confirm, roles=REVIEWERS, request=ConfirmIn, response=ReviewDecisionOut,
              summary="Confirm the alert (holder only): it then waits for a legal review if its item needs one, else"
                      " it is ready for a case task; 422 when inadmissible (without an override) or a quality"
                      " exceedance")
    table.add("POST", f"{base}/dismiss", dismiss, roles=REVIEWERS, request=dismiss_model, response=ReviewDecisionOut,
              summary="Dismiss the alert with a reason from GET /api/review/reasons (holder only)")
    table.add("GET", "/api/review/reasons", review_reasons, roles=QUEUE_READERS, response=ReviewReasonsOut,
              summary="The dismiss reasons (code, zh and en labels, in the order to offer them) and the claim lease")
