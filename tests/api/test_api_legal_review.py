"""Legal review (二审) on a real gateway with real tokens: which confirmed alerts wait for it (by their enforcement
item's configuration), four eyes, approve and reject, the supervisors' queue, and the hooks a decision runs, in its
own transaction, when it makes an alert ready for a case task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from api.server import make_mount
from testkit.api_harness import ApiGateway, api_gateway, post, seed_alert

pytestmark = pytest.mark.integration

NOISE, FUME = "C-NOISE-NIGHT", "C-FUME"
ENFORCEMENT = {"items": {
    NOISE: {"name": "夜间施工噪声扰民", "legal_basis": "《噪声污染防治法》第八十一条", "legal_review": True},
    FUME: {"name": "餐饮油烟超标排放", "legal_basis": "《大气污染防治法》第一百一十八条", "legal_review": False}}}


async def confirm(api: ApiGateway, code: str, who: str = "operator") -> dict:
    for action in ("claim", "confirm"):
        status, out = await post(api, code, action, who, {} if action == "confirm" else None)
        assert status == 200, out
    return out


# enforcement item of the alert, whether its confirmation leaves it waiting for a legal review
ITEMS: list[tuple[str | None, bool]] = [(NOISE, True), (FUME, False), ("C-UNLISTED", True), (None, True)]


@pytest.mark.parametrize(("item", "waits"), ITEMS, ids=[str(i) for i, _ in ITEMS])
async def test_a_confirmation_waits_for_legal_review_as_its_item_is_configured(
        tmp_path: Path, db_url: str, mqtt_url: str, item: str | None, waits: bool) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url, enforcement=ENFORCEMENT) as api:
        seed_alert(api, "L-1", enforcement_item=item)
        out = await confirm(api, "L-1")
        alert, review = out["alert"], out["review"]
        assert (alert["status"], alert["legal_review_required"], alert["case_ready"]) == ("confirmed", waits,
                                                                                          not waits)
        assert alert["first_reviewer_name"] == "test-operator"
        assert review["legal_review_required"] is waits
        configured = ENFORCEMENT["items"].get(item or "")
        assert review["enforcement_item"] == (None if item is None else {
            "code": item, "name": configured and configured["name"],
            "legal_basis": configured and configured["legal_basis"]})
        async with api.request("GET", "/api/alerts", "supervisor", params={"queue": "legal_review"}) as r:
            queue = [a["clue_code"] for a in (await r.json())["items"]]
        assert queue == (["L-1"] if waits else [])
        status, answer = await post(api, "L-1", "legal-review", "supervisor", {"decision": "approve"})
        if waits:
            assert status == 200 and answer["alert"]["status"] == "approved" and answer["alert"]["case_ready"]
        else:
            assert (status, answer["error"]["code"]) == (409, "no_legal_review_needed")


# who confirmed it, who reviews it (a role, or "same-name": a supervisor token issued to the first reviewer's
# name), the body, expected status, error code or the status the alert ends in
LEGAL_REVIEWS: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("operator", "supervisor", {"decision": "approve", "reason": "evidence complete"}, 200, "approved"),
    ("operator", "supervisor", {"decision": "approve"}, 200, "approved"),
    ("operator", "supervisor", {"decision": "reject", "reason": "the permit was not checked"}, 200, "rejected"),
    ("supervisor", "supervisor", {"decision": "approve"}, 403, "four_eyes"),
    ("supervisor", "supervisor", {"decision": "reject", "reason": "x"}, 403, "four_eyes"),
    ("operator", "same-name", {"decision": "approve"}, 403, "four_eyes"),
    ("operator", "supervisor", {"decision": "reject"}, 422, "invalid"),
    ("operator", "supervisor", {"decision": "reject", "reason": "   "}, 422, "invalid"),
    ("operator", "supervisor", {"decision": "maybe"}, 422, "invalid"),
    ("operator", "operator", {"decision": "approve"}, 403, "role_not_allowed"),
]


@pytest.mark.parametrize(("first", "second", "body", "want", "outcome"), LEGAL_REVIEWS)
async def test_legal_review_by_another_person(tmp_path: Path, db_url: str, mqtt_url: str, first: str,
                                              second: str, body: dict, want: int, outcome: str) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url, enforcement=ENFORCEMENT) as api:
        seed_alert(api, "L-2", enforcement_item=NOISE)
        await confirm(api, "L-2", first)
        caller = second
        if second == "same-name":
            _id, caller = api.new_token("supervisor", "test-operator")
        status, out = await post(api, "L-2", "legal-review", caller, body)
        assert status == want, out
        if want != 200:
            assert out["error"]["code"] == outcome
            if outcome == "four_eyes":
                assert f"'test-{first}' confirmed it" in out["error"]["message"]
            if want == 422:
                assert out["error"]["field"] == ("decision" if body["decision"] == "maybe" else "reason")
            with psycopg.connect(api.db_url) as conn:
                assert conn.execute("SELECT status FROM alerts").fetchone() == ("confirmed",)
            return
        alert, review = out["alert"], out["review"]
        assert (alert["status"], alert["case_ready"]) == (outcome, outcome == "approved")
        assert alert["legal_reviewer_name"] == "test-supervisor" and alert["legal_review_reason"] == body.get("reason")
        assert review["decision"] == "legal_review" and review["outcome"] == body["decision"]
        assert review["first_reviewer"] == {"token_id": api.token_ids[first], "name": f"test-{first}"}
        assert review["reviewer"]["role"] == "supervisor" and review["reason"] == body.get("reason")
        with psycopg.connect(api.db_url) as conn:
            (text,) = conn.execute("SELECT convert_from(entry, 'UTF8') FROM evidence_entries WHERE idx = %s",
                                   (out["evidence_index"],)).fetchone()
        assert '"decision":"legal_review"' in text and f'"outcome":"{body["decision"]}"' in text
        status, again = await post(api, "L-2", "legal-review", "supervisor", {"decision": "approve"})
        assert (status, again["error"]["code"]) == (409, "not_awaiting_legal_review")


async def test_only_a_confirmed_alert_is_legally_reviewed(tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url) as api:
        seed_alert(api, "L-3")
        status, out = await post(api, "L-3", "legal-review", "supervisor", {"decision": "approve"})
        assert (status, out["error"]["code"]) == (409, "not_awaiting_legal_review") and "new" in out["error"]["message"]
        status, out = await post(api, "NO-SUCH", "legal-review", "supervisor", {"decision": "approve"})
        assert (status, out["error"]["code"]) == (404, "not_found")


def ready_log(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("CREATE TABLE ready_log (clue_code text, status text, decision text, evidence_idx bigint)")


def log_ready(conn: psycopg.Connection, row: dict, review: dict) -> None:
    conn.execute("INSERT INTO ready_log VALUES (%s, %s, %s, %s)",
                 (row["clue_code"], row["status"], review["decision"], review["evidence_idx"]))


def fail_on_approve(conn: psycopg.Connection, row: dict, review: dict) -> None:
    if row["clue_code"] == "H-3":
        raise RuntimeError("the case task could not be made")


async def test_the_decision_that_makes_an_alert_ready_runs_the_hooks_in_its_transaction(
        tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    mount = make_mount(on_ready=[log_ready, fail_on_approve])
    async with api_gateway(tmp_path, db_url, mqtt_url, mount=mount, enforcement=ENFORCEMENT) as api:
        ready_log(api.db_url)
        for code, item in (("H-1", FUME), ("H-2", NOISE), ("H-3", NOISE), ("H-4", NOISE)):
            seed_alert(api, code, enforcement_item=item)
            await confirm(api, code)
        approved = await post(api, "H-2", "legal-review", "supervisor", {"decision": "approve"})
        rejected = await post(api, "H-4", "legal-review", "supervisor", {"decision": "reject", "reason": "no"})
        failed = await post(api, "H-3", "legal-review", "supervisor", {"decision": "approve"})
        assert approved[0] == 200 and rejected[0] == 200
        assert (failed[0], failed[1]["error"]["code"]) == (500, "internal_error")
        with psycopg.connect(api.db_url) as conn:
            logged = conn.execute("SELECT clue_code, status, decision FROM ready_log ORDER BY 1").fetchall()
            h3 = conn.execute("SELECT status, legal_reviewer_name FROM alerts WHERE clue_code = 'H-3'").fetchone()
            reviews = conn.execute("SELECT count(*) FROM alert_changes WHERE clue_code = 'H-3' AND type = 'review'"
                                   ).fetchone()
            audit = conn.execute("SELECT result, status FROM audit_log WHERE target = 'alert:H-3'"
                                 " AND action LIKE '%legal-review'").fetchall()
            (idx,) = conn.execute("SELECT evidence_idx FROM ready_log WHERE clue_code = 'H-2'").fetchone()
        # ready once each: H-1 on its confirmation (no legal review), H-2 on approval; never on a rejection
        assert logged == [("H-1", "confirmed", "confirm"), ("H-2", "approved", "legal_review")]
        assert idx == approved[1]["evidence_index"]
        # the failing hook took its whole decision with it: no approval, no review entry, no allowed audit row
        assert h3 == ("confirmed", None) and reviews == (2,)
        assert audit == [("failed", 500)]
