"""The receiver's case or clue number: taken from its answer (a configured path in the 2xx JSON body) or from a
later signed acknowledgement, stored with the delivery and appended to the evidence log, so the record shows
which case a clue became and when the receiver said so."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg

from evidence.entry import Entry
from evidence.log import EvidenceLog
from gateway.cases.mapping import lookup

MAX_REF = 200


def ref_from_body(body: bytes, path: str | None) -> str | None:
    """The receiver's number at `path` in a JSON answer, or None (no path, not JSON, absent, not a scalar)."""
    if path is None or not body:
        return None
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    value = lookup(doc, path)
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        return None
    return str(value)[:MAX_REF]


def ack_entry(*, task_id: str, clue_code: str, system: str, webhook_id: str, receiver_ref: str, via: str,
              at: datetime | None = None) -> Entry:
    at = at or datetime.now(UTC)
    return Entry(entry_type="case_ack", device_id=f"case:{system}", capture_time=at, time_source="gateway",
                 payload={"task_id": task_id, "clue_code": clue_code, "system": system, "webhook_id": webhook_id,
                          "receiver_ref": receiver_ref, "via": via, "time": at.isoformat()})


def record_ack(conn: psycopg.Connection, log: EvidenceLog | None, *, delivery_id: int, entry: Entry) -> int | None:
    """In the caller's transaction: append the entry (when there is a log), mark the delivery acknowledged."""
    idx = None
    if log is not None:
        (appended,) = log.append_with(conn, [entry])
        idx = appended.index
    conn.execute("UPDATE case_deliveries SET state = 'acknowledged', receiver_ref = %s, ack_evidence_idx = %s,"
                 " acknowledged_at = now(), updated_at = now() WHERE id = %s",
                 (entry.payload["receiver_ref"], idx, delivery_id))
    return idx
