"""Delivery rows as a long outage of their case system would have left them, without waiting it out: for a
benchmark of the recovery after, say, ten minutes of a receiver refusing connections.

Each undelivered delivery to the system is given the attempts a delivery first tried `outage_s` ago would have
made by now under the system's retry policy, and the next attempt its last failure scheduled, both drawn with the
worker's own back-off (gateway/cases/backoff.py, full jitter). The per-attempt log (case_attempts) keeps only the
attempts really made: the recovery reads the delivery rows, not the log.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from gateway.cases.backoff import next_attempt
from gateway.cases.config import RetryPolicy

REFUSED = "ClientConnectorError: Cannot connect to host (connection refused during the outage)"


@dataclass(frozen=True)
class Schedule:
    attempts: int
    last_at: datetime
    next_at: datetime | None  # None: the retry budget ran out during the outage (push_failed)


def backed_off(policy: RetryPolicy, first: datetime, now: datetime, rng: random.Random) -> Schedule:
    """Attempts from `first` on, each failing, until the next one falls after `now`."""
    at, attempts = first, 0
    while True:
        attempts += 1
        nxt = next_attempt(policy, attempts=attempts, first_attempt_at=first, now=at, retry_after_s=None, rng=rng)
        if nxt.at is None or nxt.at > now:
            return Schedule(attempts, at, nxt.at)
        at = nxt.at


@dataclass(frozen=True)
class Outage:
    deliveries: int
    attempts: dict[int, int]        # attempts made -> deliveries
    due_in_s: tuple[float, float]   # the soonest and the latest next attempt, seconds from now
    push_failed: int


def simulate_outage(db_url: str, system: str, policy: RetryPolicy, outage_s: float, *, seed: int = 1) -> Outage:
    """Rewrite every pending or delivering delivery to `system` as `outage_s` seconds of refused connections
    would have left it. A worker holding one of them in flight meanwhile finds its claim overtaken (the attempt
    number changed) and leaves the row alone."""
    rng = random.Random(seed)
    with psycopg.connect(db_url) as conn, conn.transaction():
        now = conn.execute("SELECT now()").fetchone()[0]
        first = now - timedelta(seconds=outage_s)
        ids = [r[0] for r in conn.execute("SELECT id FROM case_deliveries WHERE system = %s AND state IN"
                                          " ('pending', 'delivering') ORDER BY id FOR UPDATE", (system,))]
        plans = {i: backed_off(policy, first, now, rng) for i in ids}
        conn.execute("CREATE TEMP TABLE outage_plan (id bigint PRIMARY KEY, attempts int, last_at timestamptz,"
                     " next_at timestamptz) ON COMMIT DROP")
        with conn.cursor().copy("COPY outage_plan (id, attempts, last_at, next_at) FROM STDIN") as copy:
            for i, p in plans.items():
                copy.write_row((i, p.attempts, p.last_at, p.next_at))
        conn.execute(
            "UPDATE case_deliveries d SET state = CASE WHEN p.next_at IS NULL THEN 'push_failed' ELSE 'pending' END,"
            " attempts = p.attempts, first_attempt_at = %s, last_attempt_at = p.last_at,"
            " next_attempt_at = coalesce(p.next_at, d.next_attempt_at), last_status = NULL, last_error = %s,"
            " updated_at = now() FROM outage_plan p WHERE d.id = p.id", (first, REFUSED))
    counts: dict[int, int] = {}
    for p in plans.values():
        counts[p.attempts] = counts.get(p.attempts, 0) + 1
    due = [(p.next_at - now).total_seconds() for p in plans.values() if p.next_at is not None]
    return Outage(len(plans), dict(sorted(counts.items())), (min(due, default=0.0), max(due, default=0.0)),
                  sum(p.next_at is None for p in plans.values()))
