"""Many case tasks at once, for benchmarks of their delivery: n alerts COPYed, and for each a task and its
delivery rows as gateway/cases/outbox.py `create_task` writes them (document, body with the system's mapping,
webhook-id), committed together with the outbox NOTIFY that wakes the delivery workers.

testkit/case_tasks.py `make_tasks` runs the builder once per alert (a handful of round trips each: minutes for
10,000); here it runs once, and each alert's task is that one with the alert's own codes and bundle link, which is
what the builder gives alerts sharing a device, times and figures. The rows go in by COPY.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from gateway.cases.build import build_task
from gateway.cases.config import CaseSystem
from gateway.cases.links import LinkSigner
from gateway.cases.mapping import apply_mapping
from gateway.cases.outbox import OUTBOX_CHANNEL, encode_body, task_id_for, webhook_id
from gateway.config import EnforcementConfig
from testkit.case_tasks import DEVICE, LINK_KEY, decision, seed_device

_ALERT_COLUMNS = ("clue_code", "engine_alert_id", "source", "kind", "category", "rule_id", "device_id",
                  "subject_code", "subject_name", "enforcement_item", "start_time", "peak_time", "end_time",
                  "end_reason", "severity", "admissible", "detail")
# GB 12523-2025 night LAeq over its 20-minute window, as the rule engine's detail has it
_DETAIL = {"standard": "GB 12523-2025", "clause": "4.1", "metric": "LAeq", "unit": "dB(A)", "averaging": "leq",
           "window_s": 1200.0, "comparison": "gt", "limit_value": 55.0, "limit_low": None, "peak_value": 63.2,
           "last_value": 60.1}


def bulk_tasks(db_url: str, n: int, system: CaseSystem, *, prefix: str, subject: tuple[str, str] = (
        "440605", "南海区综合行政执法局"), base_url: str = "http://127.0.0.1:8080") -> list[int]:
    """n ended, admissible noise alerts of `subject` (clue codes `prefix` + a number), a task for each and one
    delivery to `system`, in one transaction; returns the delivery ids. The caller's system
    is the destination whatever its match rules say (give it rules the tasks match if the gateway routes others
    there too)."""
    links = LinkSigner(LINK_KEY, base_url, 7 * 86400)
    start = datetime(2026, 12, 1, 15, 10, tzinfo=UTC)
    detail = json.dumps(_DETAIL)
    with psycopg.connect(db_url) as conn, conn.transaction():
        seed_device(conn)
        with conn.cursor().copy(f"COPY alerts ({', '.join(_ALERT_COLUMNS)}) FROM STDIN") as copy:
            for i in range(n):
                copy.write_row((f"{prefix}{i:05d}", f"{prefix}{i}", "sensor", "construction_noise", "violation",
                                "gb12523_2025.night.laeq", DEVICE, subject[0], subject[1], "NH-NOISE-01", start,
                                start + timedelta(minutes=5), start + timedelta(minutes=30), "cleared", "major",
                                True, detail))
        alerts = conn.cursor(row_factory=dict_row).execute(
            "SELECT * FROM alerts WHERE starts_with(clue_code, %s) ORDER BY id", (prefix,)).fetchall()
        template = build_task(conn, alerts[0], decision(), enforcement=EnforcementConfig(), links=links,
                              origin="bench.enforcegw/log", tz=ZoneInfo("Asia/Shanghai"))
        exp = int(template.evidence.links_expire.timestamp())
        docs = []
        for a in alerts:
            code = a["clue_code"]
            evidence = template.evidence.model_copy(update={"bundle_url": links.bundle(code, exp)})
            docs.append((a["id"], template.model_copy(
                update={"task_id": task_id_for(code), "clue_code": code, "evidence": evidence}).document()))
        with conn.cursor().copy("COPY case_tasks (task_id, alert_id, clue_code, subject_code, item_code, kind,"
                                " source, document, destinations) FROM STDIN") as copy:
            for alert_id, doc in docs:
                copy.write_row((doc["task_id"], alert_id, doc["clue_code"], subject[0], "NH-NOISE-01",
                                "construction_noise", "sensor", json.dumps(doc, ensure_ascii=False), 1))
        ids = dict(conn.execute("SELECT task_id, id FROM case_tasks WHERE starts_with(clue_code, %s)",
                                (prefix,)).fetchall())
        with conn.cursor().copy("COPY case_deliveries (task_id, system, webhook_id, body) FROM STDIN") as copy:
            for _, doc in docs:
                copy.write_row((ids[doc["task_id"]], system.name, webhook_id(doc["task_id"], system.name),
                                encode_body(apply_mapping(doc, system.mapping))))
        out = [r[0] for r in conn.execute(
            "SELECT d.id FROM case_deliveries d JOIN case_tasks t ON t.id = d.task_id"
            " WHERE starts_with(t.clue_code, %s) ORDER BY d.id", (prefix,))]
        conn.execute("SELECT pg_notify(%s, 'bulk')", (OUTBOX_CHANNEL,))
    return out
