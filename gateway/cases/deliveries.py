"""The delivery rows in the store: claiming due ones under a lease, recording each attempt, disabling a system,
retrying a failed delivery and recording the receiver's number. Sync psycopg, one short transaction each.

A claim marks a row `delivering` and sets `next_attempt_at` to the end of its lease before the request leaves,
so a process that dies mid-request leaves a row that becomes due again when the lease runs out (sent again with
the same webhook-id). Recording an outcome checks the row is still the one this worker claimed (same attempt
number, still delivering): a worker whose lease ran out and was overtaken cannot overwrite the newer attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from gateway.cases.outbox import OUTBOX_CHANNEL


@dataclass(frozen=True)
class Claimed:
    id: int
    task: int  # case_tasks.id
    task_id: str
    clue_code: str
    system: str
    webhook_id: str
    body: bytes
    attempt: int  # this attempt's number, 1-based
    first_attempt_at: datetime


# The due rows are picked once, in a materialized CTE: as `d.id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)` a
# nested-loop plan (the one a connection's cached plan gets when it was made while the table was nearly empty)
# rescans the subquery for every outer row, each rescan locking further rows, and one claim takes every due row.
_CLAIM = """
WITH due AS MATERIALIZED (
    SELECT id FROM case_deliveries WHERE system = %(system)s AND state IN ('pending', 'delivering')
    AND next_attempt_at <= now() ORDER BY next_attempt_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
UPDATE case_deliveries d SET state = 'delivering', attempts = d.attempts + 1, next_attempt_at = now() + %(lease)s,
       first_attempt_at = coalesce(d.first_attempt_at, now()), last_attempt_at = now(), updated_at = now()
FROM due, case_tasks t
WHERE d.id = due.id AND t.id = d.task_id
RETURNING d.id, d.task_id, t.task_id, t.clue_code, d.system, d.webhook_id, d.body, d.attempts, d.first_attempt_at
"""


def claim_due(conn: psycopg.Connection, system: str, limit: int, lease: timedelta) -> list[Claimed]:
    if limit <= 0:
        return []
    with conn.transaction():
        rows = conn.execute(_CLAIM, {"lease": lease, "system": system, "limit": limit}).fetchall()
    return [Claimed(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6]), r[7], r[8]) for r in rows]


def next_due(conn: psycopg.Connection) -> datetime | None:
    """When the next delivery falls due (any system), for the worker's sleep."""
    return conn.execute("SELECT min(next_attempt_at) FROM case_deliveries WHERE state IN ('pending', 'delivering')"
                        ).fetchone()[0]


@dataclass(frozen=True)
class Attempt:
    started_at: datetime
    latency_ms: float | None
    status: int | None
    error: str | None
    retry_after_s: float | None = None


def record_attempt(conn: psycopg.Connection, claimed: Claimed, attempt: Attempt, *, state: str,
                   next_at: datetime | None, receiver_ref: str | None = None,
                   then: Callable[[psycopg.Connection], object] | None = None) -> bool:
    """Store the attempt and the delivery's new state, and run `then` in the same transaction (the receiver's
    number as evidence); False when the row was no longer ours (overtaken), and `then` is not run."""
    with conn.transaction():
        conn.execute("INSERT INTO case_attempts (delivery_id, n, started_at, latency_ms, status, error,"
                     " retry_after_s) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                     (claimed.id, claimed.attempt, attempt.started_at, attempt.latency_ms, attempt.status,
                      attempt.error, attempt.retry_after_s))
        cur = conn.execute(
            "UPDATE case_deliveries SET state = %s, next_attempt_at = coalesce(%s, next_attempt_at),"
            " last_status = %s, last_error = %s, receiver_ref = coalesce(%s, receiver_ref),"
            " delivered_at = CASE WHEN %s IN ('delivered', 'acknowledged') THEN now() ELSE delivered_at END,"
            " updated_at = now() WHERE id = %s AND state = 'delivering' AND attempts = %s",
            (state, next_at, attempt.status, attempt.error, receiver_ref, state, claimed.id, claimed.attempt))
        if cur.rowcount != 1:
            return False
        if then is not None:
            then(conn)
        return True


def disable_system(conn: psycopg.Connection, system: str, reason: str) -> int:
    """Mark the system disabled and every undelivered delivery to it `disabled`; returns how many."""
    with conn.transaction():
        conn.execute("INSERT INTO case_systems_disabled (system, reason) VALUES (%s, %s)"
                     " ON CONFLICT (system) DO NOTHING", (system, reason))
        return conn.execute("UPDATE case_deliveries SET state = 'disabled', updated_at = now()"
                            " WHERE system = %s AND state IN ('pending', 'delivering', 'push_failed')",
                            (system,)).rowcount


def disabled_systems(conn: psycopg.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT system, reason FROM case_systems_disabled").fetchall())


def enable_system(conn: psycopg.Connection, system: str) -> int:
    """Lift a 410's disabling; the system's disabled deliveries are pending again (same webhook-ids)."""
    with conn.transaction():
        conn.execute("DELETE FROM case_systems_disabled WHERE system = %s", (system,))
        n = conn.execute("UPDATE case_deliveries SET state = 'pending', next_attempt_at = now(), attempts = 0,"
                         " first_attempt_at = NULL, updated_at = now() WHERE system = %s AND state = 'disabled'",
                         (system,)).rowcount
        conn.execute("SELECT pg_notify(%s, 'enable')", (OUTBOX_CHANNEL,))
    return n


def retry_task(conn: psycopg.Connection, task: int, system: str | None = None) -> list[str]:
    """Send a task's failed deliveries again, same webhook-id, with a fresh retry budget; in the caller's
    transaction. Returns the systems it will be sent to again."""
    rows = conn.execute(
        "UPDATE case_deliveries SET state = 'pending', next_attempt_at = now(), attempts = 0,"
        " first_attempt_at = NULL, updated_at = now() WHERE task_id = %s AND state = 'push_failed'"
        " AND (%s::text IS NULL OR system = %s) AND system NOT IN (SELECT system FROM case_systems_disabled)"
        " RETURNING system", (task, system, system)).fetchall()
    if rows:
        conn.execute("SELECT pg_notify(%s, %s)", (OUTBOX_CHANNEL, str(task)))
    return [r[0] for r in rows]


def state_counts(conn: psycopg.Connection) -> tuple[list[tuple[str, str, int]], float, int]:
    """(state, system, count) rows, the age in seconds of the oldest undelivered delivery, unrouted tasks."""
    counts = conn.execute("SELECT state, system, count(*) FROM case_deliveries GROUP BY state, system").fetchall()
    oldest = conn.execute("SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM case_deliveries"
                          " WHERE state IN ('pending', 'delivering')").fetchone()[0]
    unrouted = conn.execute("SELECT count(*) FROM case_tasks WHERE destinations = 0").fetchone()[0]
    return [(s, sy, int(n)) for s, sy, n in counts], float(oldest), int(unrouted)


def pull_forward(conn: psycopg.Connection, system: str) -> int:
    """Make every pending delivery to `system` due now: it answered again after failing, so the back-off its
    other deliveries are sitting out is no longer needed (recovery is bounded by throughput, not by the longest
    jittered wait)."""
    return conn.execute("UPDATE case_deliveries SET next_attempt_at = now(), updated_at = now() WHERE system = %s"
                        " AND state = 'pending' AND next_attempt_at > now()", (system,)).rowcount
