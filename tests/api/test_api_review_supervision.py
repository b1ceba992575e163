"""What supervisors do to a first review, on a real gateway: override an inadmissible alert with a written reason
(refused without one, confirmable after it, part of the record) and hand a claim to another reviewer or back to
the queue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from testkit.api_harness import api_gateway, post, seed_alert

pytestmark = pytest.mark.integration

INADMISSIBLE = {"admissible": False, "inadmissible_reasons": ["calibration_expired"]}


def entry(db_url: str, idx: int) -> dict[str, Any]:
    with psycopg.connect(db_url) as conn:
        (text,) = conn.execute("SELECT convert_from(entry, 'UTF8') FROM evidence_entries WHERE idx = %s",
                               (idx,)).fetchone()
    return json.loads(text)


async def test_an_inadmissible_alert_is_confirmed_only_after_a_written_override(
        tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url) as api:
        open_idx = seed_alert(api, "O-1", **INADMISSIBLE)
        assert (await post(api, "O-1", "claim", "operator"))[0] == 200
        status, refused = await post(api, "O-1", "confirm", "operator", {})
        assert (status, refused["error"]["code"]) == (422, "inadmissible")
        assert "calibration_expired" in refused["error"]["message"] and "override" in refused["error"]["message"]
        for who, body, want, code in (("operator", {"reason": "x"}, 403, "role_not_allowed"),
                                      ("supervisor", {}, 422, "invalid"),
                                      ("supervisor", {"reason": "  "}, 422, "invalid")):
            status, out = await post(api, "O-1", "override", who, body)
            assert (status, out["error"]["code"]) == (want, code), (who, body)
        why = "calibration lapsed two days before; the bureau's metrology report QX-17 shows the meter in tolerance"
        status, overridden = await post(api, "O-1", "override", "supervisor", {"reason": why})
        assert status == 200, overridden
        alert = overridden["alert"]
        assert (alert["status"], alert["claimed_by_name"]) == ("in_review", "test-operator")  # the claim stays
        assert (alert["override_name"], alert["override_reason"], alert["override_reasons"]) == \
            ("test-supervisor", why, ["calibration_expired"])
        override_idx = overridden["evidence_index"]
        recorded = entry(api.db_url, override_idx)["payload"]
        assert (recorded["decision"], recorded["reason"], recorded["covers"]) == ("override", why,
                                                                                  ["calibration_expired"])
        status, again = await post(api, "O-1", "override", "supervisor", {"reason": "again"})
        assert (status, again["error"]["code"]) == (409, "already_overridden")
        status, confirmed = await post(api, "O-1", "confirm", "operator", {"note": "see override"})
        assert status == 200 and confirmed["alert"]["status"] == "confirmed", confirmed
        named = confirmed["review"]["override"]
        assert (named["by"]["name"], named["reason"], named["evidence_idx"]) == ("test-supervisor", why,
                                                                                 override_idx)
        refs = [(r["index"], r["role"]) for r in confirmed["review"]["alert_evidence"]]
        assert refs == [(open_idx, "open"), (override_idx, "override")]
        assert set(entry(api.db_url, confirmed["evidence_index"])["refs"]) == {open_idx, override_idx}


async def test_an_override_covers_only_the_reasons_it_was_given_for(tmp_path: Path, db_url: str,
                                                                    mqtt_url: str) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url) as api:
        seed_alert(api, "O-2", **INADMISSIBLE)
        assert (await post(api, "O-2", "override", "supervisor", {"reason": "meter checked"}))[0] == 200
        with psycopg.connect(api.db_url) as conn:  # a later update of the alert finds another reason
            conn.execute("UPDATE alerts SET inadmissible_reasons = '{calibration_expired,no_legal_review}'")
        assert (await post(api, "O-2", "claim", "operator"))[0] == 200
        status, refused = await post(api, "O-2", "confirm", "operator", {})
        assert (status, refused["error"]["code"]) == (422, "inadmissible")
        assert "no_legal_review" in refused["error"]["message"]
        assert "calibration_expired" not in refused["error"]["message"]
        assert (await post(api, "O-2", "override", "supervisor", {"reason": "device approved by 2026-11"}))[0] == 200
        assert (await post(api, "O-2", "confirm", "operator", {}))[0] == 200


@pytest.mark.parametrize(("cols", "status", "code"), [
    ({}, 409, "admissible"),
    ({**INADMISSIBLE, "status": "dismissed"}, 409, "already_decided"),
])
async def test_an_override_is_refused_where_it_has_nothing_to_do(tmp_path: Path, db_url: str, mqtt_url: str,
                                                                 cols: dict, status: int, code: str) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url) as api:
        seed_alert(api, "O-3", **cols)
        got, out = await post(api, "O-3", "override", "supervisor", {"reason": "why not"})
        assert (got, out["error"]["code"]) == (status, code)


async def test_a_supervisor_hands_a_claim_to_another_reviewer_or_back_to_the_queue(
        tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url) as api:
        seed_alert(api, "S-1")
        other_id, other = api.new_token("operator", "night-shift")
        assert (await post(api, "S-1", "claim", "operator"))[0] == 200
        status, moved = await post(api, "S-1", "reassign", "supervisor", {"token_id": other_id})
        assert status == 200, moved
        assert (moved["alert"]["status"], moved["alert"]["claimed_by_name"]) == ("in_review", "night-shift")
        assert moved["review"]["from"] == {"token_id": api.token_ids["operator"], "name": "test-operator"}
        assert moved["review"]["to"] == {"token_id": other_id, "name": "night-shift", "role": "operator"}
        status, refused = await post(api, "S-1", "dismiss", "operator", {"reason": "duplicate"})
        assert (status, refused["error"]["code"]) == (409, "claimed_by_other")
        status, back = await post(api, "S-1", "reassign", "supervisor", {"token_id": None})
        assert status == 200 and (back["alert"]["status"], back["alert"]["claimed_by_name"]) == ("new", None)
        assert back["review"]["to"] is None and back["review"]["decision"] == "reassign"
        status, refused = await post(api, "S-1", "reassign", "supervisor", {"token_id": None})
        assert (status, refused["error"]["code"]) == (409, "not_claimed")
        # a new alert can be handed straight to someone
        status, given = await post(api, "S-1", "reassign", "supervisor", {"token_id": other_id})
        assert status == 200 and given["alert"]["claimed_by_name"] == "night-shift"
        assert (await post(api, "S-1", "dismiss", other, {"reason": "duplicate"}))[0] == 200
        with psycopg.connect(api.db_url) as conn:
            kinds = conn.execute("SELECT payload->>'decision' FROM evidence_entries e,"
                                 " LATERAL (SELECT convert_from(e.entry, 'UTF8')::jsonb->'payload' AS payload) p"
                                 " WHERE entry_type = 'review' ORDER BY idx").fetchall()
        assert [k for (k,) in kinds] == ["claim", "reassign", "reassign", "reassign", "dismiss"]


# what the claim is handed to; what gone operator tokens get (SQL on api_tokens)
GONE = {"revoked": "revoked_at = now()", "expired": "expires_at = now() - interval '1 second'"}


@pytest.mark.parametrize(("target", "status", "code"), [
    ("auditor", 409, "not_a_reviewer"),
    ("device", 409, "not_a_reviewer"),
    ("revoked", 409, "token_inactive"),
    ("expired", 409, "token_inactive"),
    ("missing", 404, "unknown_token"),
    ("string", 422, "invalid"),
])
async def test_a_claim_goes_only_to_an_active_reviewer(tmp_path: Path, db_url: str, mqtt_url: str, target: str,
                                                       status: int, code: str) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url) as api:
        seed_alert(api, "S-2")
        token_id: Any = {"missing": 10**9, "string": "seven"}.get(target) or api.token_ids.get(target)
        if target in GONE:
            token_id, _secret = api.new_token("operator", f"{target}-operator")
            with psycopg.connect(api.db_url) as conn:
                conn.execute(f"UPDATE api_tokens SET {GONE[target]} WHERE id = %s", (token_id,))
        got, out = await post(api, "S-2", "reassign", "supervisor", {"token_id": token_id})
        assert (got, out["error"]["code"], out["error"]["field"]) == (status, code, "token_id")
        with psycopg.connect(api.db_url) as conn:
            assert conn.execute("SELECT status, claimed_by_name FROM alerts").fetchone() == ("new", None)
