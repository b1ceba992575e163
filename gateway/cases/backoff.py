"""When a delivery is tried next: exponential back-off with full jitter, a receiver's Retry-After, and the
retry budget. Pure: the worker passes the clock and the random source."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from gateway.cases.config import RetryPolicy


def full_jitter(policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): uniform(0, min(cap, base * 2**(n-1)))."""
    ceiling = min(policy.cap_s, policy.base_s * 2.0 ** min(attempt - 1, 62))
    return rng.uniform(0.0, ceiling)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """RFC 9110 Retry-After: delay-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True)
class Next:
    """What follows a failed attempt: another at `at`, or none (`at` None: the budget is spent)."""

    at: datetime | None
    waited_for_receiver: bool = False  # the delay is the receiver's Retry-After


def next_attempt(policy: RetryPolicy, *, attempts: int, first_attempt_at: datetime, now: datetime,
                 retry_after_s: float | None, rng: random.Random) -> Next:
    if attempts >= policy.max_attempts:
        return Next(None)
    if retry_after_s is not None:
        delay, honoured = min(retry_after_s, policy.max_retry_after_s), True
    else:
        delay, honoured = full_jitter(policy, attempts, rng), False
    at = now + timedelta(seconds=delay)
    if (at - first_attempt_at).total_seconds() > policy.max_total_s:
        return Next(None)
    return Next(at, honoured)
