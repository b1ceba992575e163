"""The transactional outbox: a task and one delivery per destination, written in the caller's transaction (the
review decision that made the alert ready), and woken delivery workers at commit.

The body each destination receives is fixed here, once: every attempt sends the same bytes under the same
webhook-id, so a receiver that deduplicates on the id can never open two cases for one task.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import psycopg
from psycopg.types.json import Jsonb

from gateway.cases.config import CaseSystem
from gateway.cases.mapping import apply_mapping
from gateway.cases.routing import TaskKey, destinations
from gateway.cases.task import CaseTask

OUTBOX_CHANNEL = "enforcegw_outbox"  # NOTIFY at commit of a new task or a retry: workers look for due rows


def task_id_for(clue_code: str) -> str:
    """One task per clue: its id follows from the clue code (a retry of the decision cannot make a second)."""
    return f"T-{clue_code}"


def webhook_id(task_id: str, system: str) -> str:
    """Stable per task and destination (Standard Webhooks `webhook-id`, also the Idempotency-Key)."""
    return "msg_" + hashlib.sha256(f"{task_id}\n{system}".encode()).hexdigest()[:32]


def encode_body(doc: dict) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def task_key(task: CaseTask) -> TaskKey:
    return TaskKey(subject=task.subject.code, item=task.item.code if task.item else None,
                   kind=task.violation.kind, source=task.violation.source)


@dataclass(frozen=True)
class CreatedTask:
    id: int
    task_id: str
    systems: tuple[str, ...]  # empty: unrouted

    @property
    def unrouted(self) -> bool:
        return not self.systems


def create_task(conn: psycopg.Connection, task: CaseTask, alert_id: int,
                systems: list[CaseSystem]) -> CreatedTask:
    """Write the task and its deliveries in the caller's transaction. A task that already exists for the alert
    is returned as it is (the decision was replayed), never written twice."""
    doc = task.document()
    targets = destinations(systems, task_key(task))
    row = conn.execute(
        "INSERT INTO case_tasks (task_id, alert_id, clue_code, subject_code, item_code, kind, source, document,"
        " destinations) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (alert_id) DO NOTHING RETURNING id",
        (task.task_id, alert_id, task.clue_code, task.subject.code, task.item.code if task.item else None,
         task.violation.kind, task.violation.source, Jsonb(doc), len(targets)),
    ).fetchone()
    if row is None:
        existing = conn.execute("SELECT t.id, t.task_id, coalesce(array_agg(d.system ORDER BY d.id)"
                                " FILTER (WHERE d.id IS NOT NULL), '{}') FROM case_tasks t"
                                " LEFT JOIN case_deliveries d ON d.task_id = t.id WHERE t.alert_id = %s"
                                " GROUP BY t.id", (alert_id,)).fetchone()
        return CreatedTask(existing[0], existing[1], tuple(existing[2]))
    (tid,) = row
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO case_deliveries (task_id, system, webhook_id, body, state) VALUES (%s, %s, %s, %s,"
            " CASE WHEN EXISTS (SELECT 1 FROM case_systems_disabled WHERE system = %s) THEN 'disabled'"
            " ELSE 'pending' END)",
            [(tid, s.name, webhook_id(task.task_id, s.name), encode_body(apply_mapping(doc, s.mapping)), s.name)
             for s in targets])
    if targets:
        conn.execute("SELECT pg_notify(%s, %s)", (OUTBOX_CHANNEL, str(tid)))
    return CreatedTask(tid, task.task_id, tuple(s.name for s in targets))
