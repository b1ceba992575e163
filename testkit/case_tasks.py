"""Case tasks straight in the store, for the delivery tests and the cases benchmark: a device, alerts as the
alert service leaves them, and tasks made by the same builder and outbox the review decisions call."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from gateway.cases.build import build_task
from gateway.cases.config import CaseSystem
from gateway.cases.links import LinkSigner
from gateway.cases.outbox import CreatedTask, create_task
from gateway.config import EnforcementConfig

SECRET = "whsec_" + base64.b64encode(b"case-sink-test-secret-32-bytes!!").decode()
LINK_KEY = b"\x07" * 32
DEVICE = "NH-NOISE-T1"
_DETAIL = {"standard": "GB 12523-2025", "clause": "4.1", "metric": "LAeq", "unit": "dB(A)", "averaging": "leq",
           "window_s": 1200.0, "comparison": "gt", "limit_value": 55.0, "limit_low": None, "peak_value": 63.2,
           "last_value": 60.1}


def seed_device(conn: psycopg.Connection, device_id: str = DEVICE) -> None:
    conn.execute("INSERT INTO devices (id, kind, name, lon, lat, inspection_object, legal_review_ref)"
                 " VALUES (%s, 'sensor', '桂城工地噪声', 113.15, 23.03, '桂城某工地', '南执法审〔2026〕17号')"
                 " ON CONFLICT (id) DO NOTHING", (device_id,))


def seed_alerts(conn: psycopg.Connection, n: int, *, prefix: str = "440605-20261202-", kind: str =
                "construction_noise", device_id: str = DEVICE) -> list[dict]:
    """n ended, admissible sensor alerts, status new."""
    seed_device(conn, device_id)
    start = datetime(2026, 12, 1, 15, 10, tzinfo=UTC)
    rows = []
    with conn.cursor(row_factory=dict_row) as cur:
        for i in range(n):
            rows.append(cur.execute(
                "INSERT INTO alerts (clue_code, engine_alert_id, source, kind, category, rule_id, device_id,"
                " subject_code, subject_name, enforcement_item, start_time, peak_time, end_time, end_reason,"
                " severity, admissible, detail) VALUES (%s, %s, 'sensor', %s, 'violation', 'gb12523_2025.night.laeq',"
                " %s, '440605', '南海区综合行政执法局', 'NH-NOISE-01', %s, %s, %s, 'cleared', 'major', true, %s)"
                " RETURNING *", (f"{prefix}{i:05d}", f"{prefix}{i}", kind, device_id, start, start +
                                 timedelta(minutes=5), start + timedelta(minutes=30), json.dumps(_DETAIL))).fetchone())
    return rows


def decision(name: str = "confirm") -> dict:
    return {"decision": name, "time": datetime.now(UTC).isoformat(), "note": None, "evidence_idx": None,
            "reviewer": {"token_id": 1, "name": "张三", "role": "operator"}}


def make_tasks(db_url: str, n: int, systems: list[CaseSystem], *, base_url: str = "http://127.0.0.1:8080",
               prefix: str = "440605-20261202-", kind: str = "construction_noise") -> list[CreatedTask]:
    """n alerts and a task for each, in one transaction, as n review decisions would make them."""
    links = LinkSigner(LINK_KEY, base_url, 7 * 86400)
    out = []
    with psycopg.connect(db_url) as conn, conn.transaction():
        for alert in seed_alerts(conn, n, prefix=prefix, kind=kind):
            task = build_task(conn, alert, decision(), enforcement=EnforcementConfig(), links=links,
                              origin="test.enforcegw/log", tz=ZoneInfo("Asia/Shanghai"))
            out.append(create_task(conn, task, alert["id"], systems))
    return out
