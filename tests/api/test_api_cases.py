"""Case tasks end to end on a real gateway: an alert opened and ended by MQTT readings, reviewed through the
API (first review, legal review), becomes one task in the approving decision's transaction, reaches every
matching case system once (one in our schema, one mapped to Chinese field names), is listed with its attempts,
carries evidence links that work until altered or expired, and takes the receiver's signed acknowledgement while
refusing forged and stale ones."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from standardwebhooks.webhooks import Webhook

from gateway.cases.signing import WebhookSecret
from gateway.cases.sink import CaseSink
from testkit.alert_scenes import LEGAL, NOISE, alerts, ended, levels, night_base, setup_site
from testkit.api_harness import ApiGateway, api_gateway
from testkit.case_tasks import make_tasks
from testkit.gateway_harness import Publisher, wait_for

pytestmark = pytest.mark.integration

SECRET = "whsec_" + base64.b64encode(b"the-city-case-system-secret-32b").decode()
PROV = "whsec_" + base64.b64encode(b"the-provincial-platform-secret-1").decode()
OTHER = "whsec_" + base64.b64encode(b"someone-else-entirely-secret-32b").decode()
ITEM = {"name": "夜间施工噪声扰民", "legal_basis": "《中华人民共和国噪声污染防治法》第八十一条", "legal_review": True}
MAPPING = {"案源编号": "clue_code", "案源来源": "=非现场执法", "发现时间": "times.start",
           "发现地点": "place.zone.name", "执法主体": "subject.name", "违法行为": "item.name",
           "法律依据": "item.legal_basis", "证据清单": "evidence.entries", "案情摘要": "summary"}


async def _json(api: ApiGateway, method: str, path: str, who: str | None, **kw: object) -> tuple[int, dict]:
    async with api.request(method, path, who, **kw) as r:
        return r.status, await r.json(content_type=None)


async def _status(api: ApiGateway, url: str) -> tuple[int, str | None]:
    async with api.session.get(url) as r:
        body = await r.read()
        code = json.loads(body)["error"]["code"] if r.content_type == "application/json" else None
        return r.status, code


def _publish_night_noise(mqtt_url: str) -> None:
    pub = Publisher(mqtt_url)
    try:
        pub.publish_all(levels(NOISE["id"], "LAeq", night_base(), [(22, 66.0), (30, 40.0)]))
    finally:
        pub.close()


async def test_a_reviewed_alert_reaches_each_case_system_once_with_links_and_acks(
        tmp_path: Path, db_url: str, private_mosquitto: str) -> None:
    setup_site(db_url, {**NOISE, **LEGAL})
    secret = [WebhookSecret.parse(SECRET)]
    async with CaseSink(secret, data_path=tmp_path / "city.jsonl") as city, \
            CaseSink([WebhookSecret.parse(PROV)], data_path=tmp_path / "prov.jsonl") as prov:
        systems = [
            {"name": "city", "url": city.url + "/tasks", "secret": SECRET, "ack_path": "case_no",
             "mapping": MAPPING, "match": [{"items": ["C-NOISE-NIGHT"]}]},
            {"name": "province", "url": prov.url, "secret": PROV},  # no ack_path: the number comes later
            {"name": "water", "url": prov.url, "secret": PROV, "match": [{"kinds": ["water_quality"]}]},
        ]
        async with api_gateway(tmp_path, db_url, private_mosquitto, enforcement={"items": {"C-NOISE-NIGHT": ITEM}},
                               cases={"systems": systems, "poll_s": 0.2}) as api:
            _publish_night_noise(private_mosquitto)
            await wait_for(lambda: ended(db_url), 90, "the alert opened and ended")
            (alert,) = alerts(db_url)
            code = alert["clue_code"]
            for who, action, body in (("operator", "claim", None), ("operator", "confirm", {"note": "属实"})):
                status, out = await _json(api, "POST", f"/api/alerts/{code}/{action}", who,
                                          **({} if body is None else {"json": body}))
                assert status == 200, out
            status, page = await _json(api, "GET", "/api/tasks", "supervisor")
            assert page["items"] == [], "a confirmation that waits for legal review makes no task"
            status, out = await _json(api, "POST", f"/api/alerts/{code}/legal-review", "supervisor",
                                      json={"decision": "approve", "reason": "无夜间施工证明"})
            assert status == 200, out
            await wait_for(lambda: len(city.receipts) == 1 and len(prov.receipts) == 1, 30, "both deliveries")

            # one task, to the two matching systems; the city gets its own field names
            mapped = json.loads(city.receipts[0].body)
            assert set(mapped) == set(MAPPING)
            assert (mapped["案源编号"], mapped["案源来源"], mapped["执法主体"], mapped["违法行为"]) == (
                code, "非现场执法", "南海区综合行政执法局", "夜间施工噪声扰民")
            assert mapped["法律依据"] == ITEM["legal_basis"] and "LAeq" in mapped["案情摘要"]
            task = json.loads(prov.receipts[0].body)
            assert task["$schema"].endswith("/task/v1.json") and task["clue_code"] == code
            assert [(r["decision"], r["outcome"]) for r in task["reviews"]] == [("confirm", None),
                                                                                ("legal_review", "approve")]
            roles = {e["role"] for e in task["evidence"]["entries"]}
            assert {"open", "end", "review"} <= roles and mapped["证据清单"] == task["evidence"]["entries"]
            Webhook(SECRET).verify(city.receipts[0].body, city.receipts[0].headers)
            Webhook(PROV).verify(prov.receipts[0].body, prov.receipts[0].headers)
            status, schema = await _json(api, "GET", "/api/schemas/task.json", None)
            assert status == 200 and {"task_id", "evidence"} <= set(schema["required"])

            # listed with its deliveries: the city's number came in its answer, the province's not yet
            await wait_for(lambda: _delivery_states(db_url) == {"city": "acknowledged", "province": "delivered"},
                           20, "recorded deliveries")
            status, page = await _json(api, "GET", "/api/tasks", "auditor", params={"state": "acknowledged"})
            (listed,) = page["items"]
            task_id = listed["task_id"]
            states = {d["system"]: (d["state"], d["receiver_ref"]) for d in listed["deliveries"]}
            assert states == {"city": ("acknowledged", city.receipts[0].case_no), "province": ("delivered", None)}
            status, detail = await _json(api, "GET", f"/api/tasks/{task_id}", "operator")
            assert all(len(d["attempt_log"]) == 1 and d["attempt_log"][0]["status"] == 200
                       for d in detail["deliveries"])
            assert (await _json(api, "GET", "/api/tasks", "operator", params={"system": "water"}))[1]["items"] == []
            assert (await _json(api, "GET", f"/api/tasks/{task_id}/retry", "supervisor"))[0] == 405
            status, err = await _json(api, "POST", f"/api/tasks/{task_id}/retry", "supervisor")
            assert (status, err["error"]["code"]) == (409, "nothing_to_retry")
            assert (await _json(api, "POST", f"/api/tasks/{task_id}/retry", "operator"))[0] == 403

            # the province acknowledges later; forged, stale and contradicting acks are refused
            forged = CaseSink([WebhookSecret.parse(OTHER)])
            assert (await forged.ack(api.base, task_id, "AJ-FAKE")).status == 401
            stale = CaseSink([WebhookSecret.parse(PROV)], clock=lambda: time.time() - 600)
            assert (await stale.ack(api.base, task_id, "AJ-OLD")).status == 401
            ok = await prov.ack(api.base, task_id, "粤南执罚〔2026〕0042")
            assert ok.status == 200 and ok.body["system"] == "province", ok.body
            again = await prov.ack(api.base, task_id, "粤南执罚〔2026〕0042")
            assert again.status == 200 and again.body["evidence_index"] == ok.body["evidence_index"]
            assert (await prov.ack(api.base, task_id, "粤南执罚〔2026〕9999")).status == 409
            assert _delivery_states(db_url) == {"city": "acknowledged", "province": "acknowledged"}
            with psycopg.connect(db_url) as conn:
                acks = conn.execute("SELECT e.entry FROM case_deliveries d JOIN evidence_entries e"
                                    " ON e.idx = d.ack_evidence_idx ORDER BY d.system").fetchall()
                refused = conn.execute("SELECT count(*) FROM audit_log WHERE action LIKE 'POST /api/tasks/%%/ack'"
                                       " AND status >= 400").fetchone()[0]
            refs = [json.loads(bytes(e))["payload"]["receiver_ref"] for (e,) in acks]
            assert refs == [city.receipts[0].case_no, "粤南执罚〔2026〕0042"] and refused == 3

            # evidence links: good until altered or expired, no token needed
            bundle = task["evidence"]["bundle_url"]
            await wait_for_status(api, bundle, 200)
            parts = urlsplit(bundle)
            query = parse_qs(parts.query)
            base = f"{parts.scheme}://{parts.netloc}{parts.path}"
            exp, sig = query["exp"][0], query["sig"][0]
            assert await _status(api, f"{base}?exp={int(exp) + 1}&sig={sig}") == (403, "link_bad_signature")
            assert await _status(api, f"{base}X?exp={exp}&sig={sig}") == (403, "link_bad_signature")
            assert await _status(api, f"{base}?exp={exp}") == (403, "link_malformed")
            links = api.gw.cases.links
            assert await _status(api, links.bundle(code, int(time.time()) - 1)) == (403, "link_expired")


async def wait_for_status(api: ApiGateway, url: str, status: int, timeout: float = 30) -> None:
    """The bundle needs a checkpoint covering the review entries: the sequencer signs one within seconds."""
    deadline = time.monotonic() + timeout
    while (got := (await _status(api, url))[0]) != status:
        assert time.monotonic() < deadline, f"{url} answered {got}"
        await asyncio.sleep(0.5)


def _delivery_states(db_url: str) -> dict[str, str]:
    with psycopg.connect(db_url) as conn:
        return dict(conn.execute("SELECT system, state FROM case_deliveries").fetchall())


async def test_a_410_disables_a_system_until_someone_enables_it(tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    async with CaseSink([WebhookSecret.parse(PROV)], status=410) as sink:
        systems = [{"name": "gone", "url": sink.url, "secret": PROV}]
        async with api_gateway(tmp_path, db_url, mqtt_url, cases={"systems": systems, "poll_s": 0.2}) as api:
            made = make_tasks(db_url, 2, api.gw.settings.cases.systems)
            await wait_for(lambda: set(_delivery_states(db_url).values()) == {"disabled"}, 20, "disabled")
            status, out = await _json(api, "GET", "/api/case-systems", "auditor")
            (gone,) = out["systems"]
            assert status == 200 and "410" in gone["disabled_reason"] and gone["deliveries"] == {"disabled": 2}
            assert (await _json(api, "POST", "/api/case-systems/gone/enable", "auditor"))[0] == 403
            assert (await _json(api, "POST", "/api/case-systems/nowhere/enable", "admin"))[0] == 404
            sink.status = None  # the receiver is back
            status, out = await _json(api, "POST", "/api/case-systems/gone/enable", "supervisor")
            assert (status, out["deliveries_pending_again"]) == (200, 2)
            await wait_for(lambda: len(sink.receipts) == 2, 20, "both sent again")
            status, err = await _json(api, "POST", "/api/case-systems/gone/enable", "admin")
            assert (status, err["error"]["code"]) == (409, "not_disabled")
            status, page = await _json(api, "GET", "/api/tasks", "supervisor", params={"system": "gone"})
            assert {t["task_id"] for t in page["items"]} == {m.task_id for m in made}
