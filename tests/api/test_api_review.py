"""First review on a real gateway with real tokens: claims under a lease, holder-only decisions, refusals with
their reasons, and each decision as a review evidence entry and a `review` change on the stream."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import psycopg
import pytest

from testkit.api_harness import api_gateway, post, seed_alert
from testkit.sse import sse_events

pytestmark = pytest.mark.integration


async def test_a_second_reviewer_is_refused_naming_the_holder_until_the_holder_decides(
        tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url) as api:
        seed_alert(api, "R-1")
        _id, second = api.new_token("operator", "second-operator")
        status, first = await post(api, "R-1", "claim", "operator")
        assert status == 200, first
        assert first["alert"]["status"] == "in_review" and first["alert"]["claimed_by_name"] == "test-operator"
        for action, body in (("claim", None), ("release", None), ("confirm", {}),
                             ("dismiss", {"reason": "duplicate"})):
            status, refused = await post(api, "R-1", action, second, body)
            assert (status, refused["error"]["code"]) == (409, "claimed_by_other"), action
            assert "test-operator" in refused["error"]["message"]
        status, renewed = await post(api, "R-1", "claim", "operator")  # the holder renews its lease
        assert status == 200 and renewed["alert"]["claim_expires_at"] > first["alert"]["claim_expires_at"]
        status, done = await post(api, "R-1", "confirm", "operator", {"note": "clear night-time exceedance"})
        assert status == 200 and done["alert"]["status"] == "confirmed"
        assert done["alert"]["claimed_by_name"] is None and done["review"]["note"] == "clear night-time exceedance"
        status, late = await post(api, "R-1", "claim", second)
        assert (status, late["error"]["code"]) == (409, "already_decided")


async def test_an_expired_lease_may_be_taken_and_no_longer_lets_its_old_holder_decide(
        tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url, api={"review": {"lease_s": 0.3}}) as api:
        seed_alert(api, "R-2")
        status, claimed = await post(api, "R-2", "claim", "operator")
        assert status == 200 and claimed["review"]["lease_s"] == 0.3
        await asyncio.sleep(0.5)
        status, refused = await post(api, "R-2", "dismiss", "operator", {"reason": "false_detection"})
        assert (status, refused["error"]["code"]) == (409, "claim_expired")
        status, taken = await post(api, "R-2", "claim", "supervisor")
        assert status == 200 and taken["alert"]["claimed_by_name"] == "test-supervisor"
        status, released = await post(api, "R-2", "release", "supervisor")
        assert status == 200 and released["alert"]["status"] == "new"
        assert released["alert"]["claimed_by_name"] is None


# alert columns, (action, body) tried by its claimed holder, expected status, error code, text in the message
REFUSALS: list[tuple[dict[str, Any], str, Any, int, str, str]] = [
    ({"admissible": False, "inadmissible_reasons": ["calibration_expired", "no_legal_review"]}, "confirm", {},
     422, "inadmissible", "calibration_expired, no_legal_review"),
    ({"category": "quality_exceedance"}, "confirm", None, 422, "not_a_case", "quality exceedance"),
    ({}, "dismiss", {"reason": "looked_fine"}, 422, "invalid", "reason"),
    ({}, "dismiss", {"reason": "duplicate", "extra": 1}, 422, "invalid", "extra"),
    ({}, "dismiss", None, 400, "malformed_json", "body"),
    ({}, "confirm", {"note": 5}, 422, "invalid", "note"),
    ({}, "confirm", {"note": "a\x00b"}, 422, "invalid", "note"),
    ({}, "dismiss", {"reason": "duplicate", "text": "\x00"}, 422, "invalid", "text"),
]


async def test_refused_decisions_say_why_and_change_nothing(tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url) as api:
        for i, (cols, action, body, want, code, text) in enumerate(REFUSALS):
            clue = f"X-{i}"
            seed_alert(api, clue, **cols)
            assert (await post(api, clue, "claim", "operator"))[0] == 200
            status, refused = await post(api, clue, action, "operator", body)
            assert (status, refused["error"]["code"]) == (want, code), (action, cols, refused)
            assert text in refused["error"]["message"], refused
        seed_alert(api, "U-1")
        for action, body in (("release", None), ("confirm", {}), ("dismiss", {"reason": "duplicate"})):
            status, refused = await post(api, "U-1", action, "operator", body)
            assert (status, refused["error"]["code"]) == (409, "not_claimed"), action
        for code in ("NO-SUCH", "NO%00SUCH"):
            status, missing = await post(api, code, "claim", "operator")
            assert (status, missing["error"]["code"]) == (404, "not_found")
        with psycopg.connect(api.db_url) as conn:
            statuses = conn.execute("SELECT DISTINCT status FROM alerts").fetchall()
            reviews = conn.execute("SELECT count(*) FROM evidence_entries WHERE entry_type = 'review'").fetchone()
        assert sorted(statuses) == [("in_review",), ("new",)]  # the refused stay claimed, U-1 untouched
        assert reviews == (len(REFUSALS),)  # only the claims left entries


async def test_each_decision_is_a_review_entry_and_a_review_change(tmp_path: Path, db_url: str,
                                                                   mqtt_url: str) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url) as api:
        open_idx = seed_alert(api, "E-1")
        with psycopg.connect(api.db_url) as conn:
            (last,) = conn.execute("SELECT max(id) FROM alert_changes").fetchone()
        stream = await api.request("GET", "/api/alerts/stream", "auditor", headers={"Last-Event-ID": str(last)})
        assert stream.status == 200
        steps = [("operator", "claim", None), ("operator", "release", None), ("supervisor", "claim", None),
                 ("supervisor", "dismiss", {"reason": "lawful_activity", "text": "permit NW-7 covers it"})]
        answers = []
        for who, action, body in steps:
            status, out = await post(api, "E-1", action, who, body)
            assert status == 200, out
            answers.append(out)
        events = await sse_events(stream, len(steps))
        stream.close()
        assert [(e["event"], e["data"]["alert"]["review"]["decision"]) for e in events] == \
            [("review", a) for _w, a, _b in steps]
        assert [e["id"] for e in events] == [a["change_id"] for a in answers]
        with psycopg.connect(api.db_url) as conn:
            leaf = bytes(conn.execute("SELECT leaf_hash FROM evidence_entries WHERE idx = %s",
                                      (open_idx,)).fetchone()[0]).hex()
            rows = conn.execute("SELECT idx, convert_from(entry, 'UTF8') FROM evidence_entries"
                                " WHERE entry_type = 'review' ORDER BY idx").fetchall()
            audit = conn.execute("SELECT DISTINCT target, result FROM audit_log ORDER BY 2").fetchall()
        assert [idx for idx, _ in rows] == [a["evidence_index"] for a in answers]
        for (_idx, text), (who, action, _body) in zip(rows, steps, strict=True):
            assert f'"name":"test-{who}"' in text and f'"decision":"{action}"' in text
            assert f'"refs":[{open_idx}]' in text and leaf in text
        assert '"reason":"lawful_activity"' in rows[-1][1]
        last_review = answers[-1]["review"]
        assert last_review["alert_evidence"] == [{"index": open_idx, "role": "open", "leaf_hash": leaf}]
        assert last_review["reviewer"] == {"token_id": api.token_ids["supervisor"], "name": "test-supervisor",
                                           "role": "supervisor"}
        assert answers[-1]["alert"]["status"] == "dismissed"
        assert audit == [("alert:E-1", "claim"), ("alert:E-1", "dismiss"), ("alert:E-1", "release")]


# who, action, body; the status and audit result the request leaves
AUDITED: list[tuple[str, str, Any, int, str]] = [
    ("operator", "claim", None, 200, "claim"),
    ("second", "claim", None, 409, "refused_claimed_by_other"),
    ("operator", "dismiss", {"reason": "looked_fine"}, 422, "refused_invalid"),
    ("auditor", "claim", None, 403, "refused_forbidden"),
    ("operator", "confirm", {}, 200, "confirm"),
]


async def test_a_decision_is_audited_once_in_its_own_transaction_and_a_refusal_still_is(
        tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url) as api:
        seed_alert(api, "T-1")
        _id, second = api.new_token("operator", "second-operator")
        for who, action, body, want, _result in AUDITED:
            status, out = await post(api, "T-1", action, second if who == "second" else who, body)
            assert status == want, out
        with psycopg.connect(api.db_url) as conn:
            audit = conn.execute("SELECT xmin::text, result, status, token_name FROM audit_log"
                                 " WHERE action LIKE 'POST /api/alerts/%' ORDER BY id").fetchall()
            changes = conn.execute("SELECT xmin::text FROM alert_changes WHERE type = 'review' ORDER BY id"
                                   ).fetchall()
    assert [(r[1], r[2]) for r in audit] == [(result, want) for *_x, want, result in AUDITED]
    assert [r[3] for r in audit] == ["test-operator", "second-operator", "test-operator", "test-auditor",
                                     "test-operator"]
    # each allowed decision's row was written by the decision's own transaction, the refused ones by others
    allowed = [r[0] for r in audit if r[2] == 200]
    assert allowed == [x for (x,) in changes] and len(set(allowed)) == 2
    assert not {r[0] for r in audit if r[2] != 200} & set(allowed)


REASONS = {"no_permit_needed": {"zh": "无需许可", "en": "No permit needed"},
           "duplicate": {"zh": "重复", "en": "Duplicate"}}


async def test_the_dismiss_reasons_are_the_configured_ones(tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url,
                           api={"review": {"dismiss_reasons": REASONS, "lease_s": 120}}) as api:
        for who, want in (("operator", 200), ("auditor", 200), ("supervisor", 200), ("admin", 403), (None, 401)):
            async with api.request("GET", "/api/review/reasons", who) as r:
                assert r.status == want, who
                served = await r.json()
        async with api.request("GET", "/api/review/reasons", "operator") as r:
            served = await r.json()
        assert served == {"dismiss_reasons": [{"code": c, **labels} for c, labels in REASONS.items()],
                          "lease_s": 120.0}
        async with api.request("GET", "/api/openapi.json") as r:
            documented = (await r.json())["components"]["schemas"]["DismissIn"]["properties"]["reason"]
        assert documented["enum"] == list(REASONS)
        seed_alert(api, "D-1")
        assert (await post(api, "D-1", "claim", "operator"))[0] == 200
        status, refused = await post(api, "D-1", "dismiss", "operator", {"reason": "false_detection"})
        assert (status, refused["error"]["code"], refused["error"]["field"]) == (422, "invalid", "reason")
        assert "'no_permit_needed' or 'duplicate'" in refused["error"]["message"]
        status, done = await post(api, "D-1", "dismiss", "operator", {"reason": "no_permit_needed", "text": "site"})
        assert status == 200 and done["alert"]["status"] == "dismissed"
        assert done["review"]["reason_label"] == REASONS["no_permit_needed"]
        assert done["alert"]["first_reviewer_name"] == "test-operator" and not done["alert"]["case_ready"]
