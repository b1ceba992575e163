"""Which messages of a batch collide with stored rows (or with each other), and how: duplicate or conflict.

The rule, per message (one MQTT payload can carry several readings):

* every row of it repeats a stored row exactly (same key, same time and value / same pose fields): `duplicate`,
  dropped and counted (a QoS 1 redelivery, a publisher retry);
* no row of it collides with anything: stored;
* otherwise `conflict`: a different value, time or pose under a stored key, or a message that is partly a repeat
  and partly new. Nothing of it is stored; the first value stays and the message becomes a dead letter whose
  detail names each key with the stored and the received values.

Keys are the store's exactly-once keys: readings `(device, seq, metric)`, or `(device, time, metric)` without
`seq`; poses `(device, time)`. Two messages of one batch under one key: the first accepted one wins and the
later one is judged against it exactly as against a stored row.

Why this shape: the lookups run set-wise in SQL on the staging tables (one statement per table: each staged row
probes its key's unique index, and a window counts keys repeated inside the batch), so a batch without
collisions costs one extra index probe per row. Only rows that collide come back to Python, where the verdict
walks messages in arrival order: whether a later message repeats or contradicts an earlier one depends on
whether that earlier one was accepted, which a single set-wise statement cannot express.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from ingest.models import Pose, Reading

__all__ = ["POSE_FIELDS", "Refusal", "classify"]

# Pose columns compared for "the same pose" (received_at is when we got it, not what it says).
POSE_FIELDS = ("lat", "lon", "has_fix", "alt_rel_m", "alt_abs_m", "yaw", "pitch", "roll", "gimbal_yaw",
               "gimbal_pitch", "gimbal_roll", "hfov_deg", "source", "gateway_sn", "extra")
_MAX_LISTED = 5

_READING_COLLISIONS = """
SELECT i.ord, i.msg, s.time, s.value, s.time = i.time AND s.value = i.value
FROM (SELECT ord, msg, device_id, metric, seq, time, value,
             count(*) OVER (PARTITION BY device_id, metric, seq, CASE WHEN seq IS NULL THEN time END) AS n_key
      FROM readings_in) i
LEFT JOIN LATERAL (
    (SELECT r.time, r.value FROM readings r
     WHERE i.seq IS NOT NULL AND r.device_id = i.device_id AND r.seq = i.seq AND r.metric = i.metric LIMIT 1)
    UNION ALL
    (SELECT r.time, r.value FROM readings r
     WHERE i.seq IS NULL AND r.seq IS NULL AND r.device_id = i.device_id AND r.time = i.time
       AND r.metric = i.metric LIMIT 1)
) s ON true
WHERE s.time IS NOT NULL OR i.n_key > 1
"""

_POSE_COLS = ", ".join(POSE_FIELDS)
_POSE_COLLISIONS = f"""
SELECT i.ord, i.msg, s.found, ({", ".join("i." + c for c in POSE_FIELDS)})
                              IS NOT DISTINCT FROM ({", ".join("s." + c for c in POSE_FIELDS)}),
       {", ".join("s." + c for c in POSE_FIELDS)}
FROM (SELECT *, count(*) OVER (PARTITION BY device_id, time) AS n_key FROM poses_in) i
LEFT JOIN LATERAL (SELECT true AS found, {_POSE_COLS} FROM poses p
                   WHERE p.device_id = i.device_id AND p.time = i.time LIMIT 1) s ON true
WHERE s.found OR i.n_key > 1
"""


@dataclass(frozen=True, slots=True)
class Refusal:
    msg: int  # index of the message in its batch
    reason: str  # "duplicate" | "conflict"
    kind: str  # "reading" | "pose"
    detail: str


@dataclass(slots=True)
class _Collision:
    msg: int
    kind: str
    key: Hashable
    label: str  # the key, for an operator
    received: Any  # what is compared for equality with an earlier accepted row
    received_text: str
    stored_text: str | None  # None: no stored row under the key (it collides inside the batch only)
    same_as_stored: bool


def _ts(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _reading_key(r: Reading) -> tuple[Hashable, str]:
    if r.seq is not None:
        return (r.device_id, r.metric, r.seq, None), f"reading {r.device_id} seq={r.seq} {r.metric}"
    return (r.device_id, r.metric, None, r.time), f"reading {r.device_id} time={_ts(r.time)} {r.metric}"


def _reading_text(t: datetime, value: float) -> str:
    return f"time {_ts(t)} value {value!r}"


def _pose_values(p: Pose) -> tuple:
    return tuple(getattr(p, f) for f in POSE_FIELDS)


def _pose_diff(stored: Sequence[Any], received: Sequence[Any]) -> tuple[str, str]:
    names = [f for f, a, b in zip(POSE_FIELDS, stored, received, strict=True) if a != b] or ["extra"]
    pick = {f: i for i, f in enumerate(POSE_FIELDS)}
    return (", ".join(f"{f}={stored[pick[f]]!r}" for f in names),
            ", ".join(f"{f}={received[pick[f]]!r}" for f in names))


def _collisions(cur: psycopg.Cursor, readings: Sequence[Reading], poses: Sequence[Pose]) -> list[_Collision]:
    out: list[_Collision] = []
    if readings:
        for ord_, msg, s_time, s_value, same in cur.execute(_READING_COLLISIONS).fetchall():
            r = readings[ord_]
            key, label = _reading_key(r)
            stored = None if s_time is None else _reading_text(s_time, s_value)
            out.append(_Collision(msg, "reading", key, label, (r.time, r.value), _reading_text(r.time, r.value),
                                  stored, bool(same)))
    if poses:
        for ord_, msg, found, same, *stored_values in cur.execute(_POSE_COLLISIONS).fetchall():
            p = poses[ord_]
            received = _pose_values(p)
            stored_text, received_text = _pose_diff(stored_values, received) if found else (None, "")
            out.append(_Collision(msg, "pose", (p.device_id, p.time), f"pose {p.device_id} time={_ts(p.time)}",
                                  received, received_text, stored_text, bool(same)))
    return out


def _listed(items: list[str]) -> str:
    more = len(items) - _MAX_LISTED
    return "; ".join(items[:_MAX_LISTED]) + (f"; and {more} more" if more > 0 else "")


def _verdict(rows: list[_Collision], n_rows: int, accepted: dict[Hashable, _Collision]) -> Refusal | None:
    dups: list[_Collision] = []
    conflicts: list[str] = []
    for c in rows:
        if c.stored_text is not None:
            if c.same_as_stored:
                dups.append(c)
            else:
                conflicts.append(f"{c.label}: stored {c.stored_text}, received {c.received_text}")
        elif (first := accepted.get(c.key)) is not None:
            if first.received == c.received:
                dups.append(c)
            elif c.kind == "reading":
                conflicts.append(f"{c.label}: stored {first.received_text}, received {c.received_text}")
            else:
                s, r = _pose_diff(first.received, c.received)
                conflicts.append(f"{c.label}: stored {s}, received {r}")
    m, kind = rows[0].msg, rows[0].kind
    if conflicts:
        return Refusal(m, "conflict", kind, "a different value is already stored under the same key: "
                       + _listed(conflicts))
    if dups and len(dups) == n_rows:
        return Refusal(m, "duplicate", kind, "")
    if dups:
        return Refusal(m, "conflict", kind, f"the message repeats {len(dups)} stored row(s) and adds "
                       f"{n_rows - len(dups)} new one(s); a message is stored whole or refused whole. Repeated: "
                       + _listed([c.label for c in dups]))
    return None


def classify(cur: psycopg.Cursor, readings: Sequence[Reading], reading_msg: Sequence[int],
             poses: Sequence[Pose], pose_msg: Sequence[int]) -> dict[int, Refusal]:
    """Refusals by message index, for the rows staged in readings_in / poses_in (`ord` = index in `readings` /
    `poses`, `msg` = the message). Messages not in the result are stored whole."""
    found = _collisions(cur, readings, poses)
    if not found:
        return {}
    n_rows = Counter(reading_msg)
    n_rows.update(pose_msg)
    by_msg: dict[int, list[_Collision]] = {}
    for c in found:
        by_msg.setdefault(c.msg, []).append(c)
    accepted: dict[Hashable, _Collision] = {}
    refusals: dict[int, Refusal] = {}
    for m in sorted(by_msg):
        rows = by_msg[m]
        refusal = _verdict(rows, n_rows[m], accepted)
        if refusal is None:
            for c in rows:
                accepted.setdefault(c.key, c)
        else:
            refusals[m] = refusal
    return refusals
