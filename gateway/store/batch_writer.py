"""Writes ingest batches in one transaction: COPY into session-local staging tables, judge the messages whose
rows collide with stored ones (`gateway.store.conflicts`), then one INSERT per table of the rows of every message
that is neither a duplicate nor a conflict. Device events, device state and dead letters (conflicts among them,
with the message's own topic and bytes) commit in the same transaction.

Runs on a plain (sync) psycopg connection owned by the ingest writer thread: COPY from a thread does not
compete with the asyncio loop that serves HTTP and runs the rule engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from gateway.store import conflicts, device_state
from ingest.device_events import DeviceEvent
from ingest.models import DeadLetter, Pose, Reading
from ingest.mqtt import RawMessage

# `ord`: the row's index in the batch's list; `msg`: the index of the message it came from.
_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS readings_in (LIKE readings INCLUDING DEFAULTS, ord int NOT NULL, msg int NOT NULL)
    ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS poses_in (LIKE poses INCLUDING DEFAULTS, ord int NOT NULL, msg int NOT NULL)
    ON COMMIT DELETE ROWS;
""" + device_state.STAGING
_READING_COLS = "time, device_id, metric, value, seq, received_at"
_POSE_COLS = (
    "time, device_id, lat, lon, has_fix, alt_rel_m, alt_abs_m, yaw, pitch, roll, gimbal_yaw, gimbal_pitch,"
    " gimbal_roll, hfov_deg, source, gateway_sn, extra, received_at"
)


@dataclass
class Batch:
    """The messages of one transaction and the rows parsed from each; `*_msg[i]` is the index in `messages` of
    the message that row `i` came from, so a refused message is refused whole and its dead letter holds its
    own topic and bytes."""

    messages: list[RawMessage] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    reading_msg: list[int] = field(default_factory=list)
    poses: list[Pose] = field(default_factory=list)
    pose_msg: list[int] = field(default_factory=list)
    events: list[DeviceEvent] = field(default_factory=list)
    event_msg: list[int] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    seen: dict[str, datetime] = field(default_factory=dict)  # device -> newest time of its accepted rows

    @property
    def rows(self) -> int:
        return len(self.readings) + len(self.poses) + len(self.events) + len(self.dead)


@dataclass
class WriteResult:
    readings_stored: int = 0
    readings_duplicate: int = 0
    poses_stored: int = 0
    poses_duplicate: int = 0
    events_stored: int = 0
    events_duplicate: int = 0
    dead_letters: int = 0
    conflicts: list[DeadLetter] = field(default_factory=list)  # written with the batch's dead letters
    conflict_kinds: list[str] = field(default_factory=list)  # "reading" | "pose", one per conflict
    rejected: list[DeadLetter] = field(default_factory=list)  # messages whose rows the store refused
    refused: set[int] = field(default_factory=set)  # messages of which nothing was stored (duplicate, conflict)

    def add(self, other: WriteResult) -> None:
        for name in ("readings_stored", "readings_duplicate", "poses_stored", "poses_duplicate",
                     "events_stored", "events_duplicate", "dead_letters"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.conflicts += other.conflicts
        self.conflict_kinds += other.conflict_kinds


def prepare(conn: psycopg.Connection) -> None:
    """Create this session's staging tables (once per connection)."""
    with conn.transaction():
        conn.execute(_STAGING)


def _now() -> datetime:
    return datetime.now(UTC)


def _received(m: RawMessage) -> datetime:
    return datetime.fromtimestamp(m.received_at, UTC)


def write_batch(conn: psycopg.Connection, batch: Batch) -> WriteResult:
    """Store one batch atomically. A message is stored whole, dropped whole as a duplicate, or refused whole
    as a conflict (a dead letter); `result.refused` names the messages of which nothing was stored."""
    result = WriteResult()
    now = _now()
    with conn.transaction(), conn.cursor() as cur:
        if batch.readings:
            with cur.copy(f"COPY readings_in ({_READING_COLS}, ord, msg) FROM STDIN") as cp:
                for i, (r, m) in enumerate(zip(batch.readings, batch.reading_msg, strict=True)):
                    cp.write_row((r.time, r.device_id, r.metric, r.value, r.seq, r.received_at or now, i, m))
        if batch.poses:
            with cur.copy(f"COPY poses_in ({_POSE_COLS}, ord, msg) FROM STDIN") as cp:
                for i, (p, m) in enumerate(zip(batch.poses, batch.pose_msg, strict=True)):
                    cp.write_row((*_pose_row(p, now), i, m))
        refusals = conflicts.classify(cur, batch.readings, batch.reading_msg, batch.poses, batch.pose_msg) \
            if batch.readings or batch.poses else {}
        refused = sorted(refusals)
        result.refused = set(refused)
        if batch.readings:
            cur.execute(f"INSERT INTO readings ({_READING_COLS}) SELECT {_READING_COLS} FROM readings_in"
                        " WHERE msg <> ALL(%s::int[]) ON CONFLICT DO NOTHING", (refused,))
            result.readings_stored = cur.rowcount
        if batch.poses:
            cur.execute(f"INSERT INTO poses ({_POSE_COLS}) SELECT {_POSE_COLS} FROM poses_in"
                        " WHERE msg <> ALL(%s::int[]) ON CONFLICT DO NOTHING", (refused,))
            result.poses_stored = cur.rowcount
        # A conflict is not a duplicate: count the rows of conflicting messages apart.
        conflict_msgs = {m for m, r in refusals.items() if r.reason == "conflict"}
        in_conflict_r = sum(1 for m in batch.reading_msg if m in conflict_msgs) if conflict_msgs else 0
        in_conflict_p = sum(1 for m in batch.pose_msg if m in conflict_msgs) if conflict_msgs else 0
        result.readings_duplicate = len(batch.readings) - result.readings_stored - in_conflict_r
        result.poses_duplicate = len(batch.poses) - result.poses_stored - in_conflict_p
        for m in sorted(conflict_msgs):
            raw = batch.messages[m]
            result.conflicts.append(DeadLetter(raw.topic, "conflict", refusals[m].detail, bytes(raw.payload),
                                               _received(raw)))
            result.conflict_kinds.append(refusals[m].kind)
        if batch.events:
            result.events_stored = device_state.write_events(cur, batch.events, batch.event_msg, batch.messages,
                                                             now)
            result.events_duplicate = len(batch.events) - result.events_stored
            device_state.apply_online_state(cur, batch.events)
        dead = batch.dead + result.conflicts
        if dead:
            write_dead_letters(cur, dead, now)
            result.dead_letters = len(dead)
        device_state.touch_last_seen(cur, batch.seen)  # last: its row locks are held the shortest
    return result


def _text(s: str) -> str:
    """Text a PostgreSQL text column takes: no NUL, no lone surrogate (an MQTT topic or a detail may hold them)."""
    if s.isascii() and "\x00" not in s:
        return s
    return s.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\0")


def write_dead_letters(cur: psycopg.Cursor, dead_letters: list[DeadLetter], now: datetime | None = None) -> None:
    now = now or _now()
    with cur.copy("COPY dead_letters (received_at, topic, reason, detail, payload) FROM STDIN") as cp:
        for d in dead_letters:
            cp.write_row((d.received_at or now, _text(d.topic), d.reason, _text(d.detail), d.payload))


def _pose_row(p: Pose, now: datetime) -> tuple:
    return (
        p.time, p.device_id, p.lat, p.lon, p.has_fix, p.alt_rel_m, p.alt_abs_m, p.yaw, p.pitch, p.roll,
        p.gimbal_yaw, p.gimbal_pitch, p.gimbal_roll, p.hfov_deg, p.source, p.gateway_sn,
        json.dumps(p.extra, default=str), p.received_at or now,
    )
