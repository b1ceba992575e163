"""Retry timing: full jitter within its ceiling, Retry-After honoured up to a bound, the retry budget."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.cases.backoff import full_jitter, next_attempt, parse_retry_after
from gateway.cases.config import RetryPolicy

NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


@given(attempt=st.integers(1, 200), base=st.floats(0.01, 100), cap=st.floats(0.01, 10_000), seed=st.integers())
def test_full_jitter_stays_under_its_ceiling(attempt: int, base: float, cap: float, seed: int) -> None:
    policy = RetryPolicy(base_s=base, cap_s=cap)
    d = full_jitter(policy, attempt, random.Random(seed))
    assert 0 <= d <= min(cap, base * 2 ** (attempt - 1))


def test_full_jitter_spreads_over_the_whole_interval() -> None:
    rng = random.Random(1)
    policy = RetryPolicy(base_s=1, cap_s=1000)
    waits = [full_jitter(policy, 5, rng) for _ in range(2000)]  # ceiling 16 s
    assert max(waits) > 15 and min(waits) < 1 and 6 < sum(waits) / len(waits) < 10


@pytest.mark.parametrize(("value", "expected"), [
    ("120", 120.0), (" 7 ", 7.0), (None, None), ("", None), ("soon", None), ("-5", None),
    ("Wed, 02 Dec 2026 06:01:00 GMT", 60.0), ("Wed, 02 Dec 2026 05:00:00 GMT", 0.0),
])
def test_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(("attempts", "first_ago_s", "retry_after", "expected"), [
    (1, 0, None, "retry"),
    (5, 0, None, "retry"),
    (5, 0, 30.0, 30.0),            # the receiver's Retry-After
    (5, 0, 99_999.0, 600.0),       # bounded by max_retry_after_s
    (6, 0, None, "give up"),       # max_attempts
    (2, 3590, 30.0, "give up"),    # past the total budget
])
def test_next_attempt(attempts: int, first_ago_s: float, retry_after: float | None,
                      expected: str | float) -> None:
    policy = RetryPolicy(base_s=1, cap_s=60, max_attempts=6, max_total_s=3600, max_retry_after_s=600)
    nxt = next_attempt(policy, attempts=attempts, first_attempt_at=NOW - timedelta(seconds=first_ago_s), now=NOW,
                       retry_after_s=retry_after, rng=random.Random(3))
    if expected == "give up":
        assert nxt.at is None
    elif expected == "retry":
        assert nxt.at is not None and NOW <= nxt.at <= NOW + timedelta(seconds=2 ** (attempts - 1))
        assert not nxt.waited_for_receiver
    else:
        assert nxt.at == NOW + timedelta(seconds=expected) and nxt.waited_for_receiver
