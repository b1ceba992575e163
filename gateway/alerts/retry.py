"""Retrying one piece of alert store work: until the store answers when it is unreachable, a bounded number of
times when it refuses the work for any other reason."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # tries of work the store refuses while reachable (a constraint, a bug, a timeout)
    backoff_s: float = 0.5  # before the first retry; doubles with each one
    backoff_max_s: float = 10.0
    sync_retry_s: float = 2.0  # between attempts to reload the device registry


class GaveUp(Exception):
    def __init__(self, attempts: int, error: BaseException, *, unavailable: bool) -> None:
        super().__init__(f"gave up after {attempts} attempts: {type(error).__name__}: {error}")
        self.attempts = attempts
        self.error = error
        self.unavailable = unavailable  # the store was unreachable to the end (only when stopping)


def with_retries(action: Callable[[], T], policy: RetryPolicy, *, unavailable: Callable[[BaseException], bool],
                 stopping: Callable[[], bool], on_retry: Callable[[str, int, BaseException, float], None],
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """Run `action`; on failure call `on_retry(reason, attempt, error, delay)`, wait, try again.

    An unreachable store (`unavailable(error)`) is waited out for as long as it takes, except once `stopping()`:
    then `policy.attempts` tries and GaveUp. Any other error: GaveUp after `policy.attempts` tries."""
    delay = policy.backoff_s
    attempt = refused = 0
    while True:
        attempt += 1
        try:
            return action()
        except Exception as exc:
            if unavailable(exc):
                if stopping() and attempt >= policy.attempts:
                    raise GaveUp(attempt, exc, unavailable=True) from exc
                reason = "store_unavailable"
            else:
                refused += 1
                if refused >= policy.attempts:
                    raise GaveUp(attempt, exc, unavailable=False) from exc
                reason = "error"
            on_retry(reason, attempt, exc, delay)
        sleep(delay)
        delay = min(delay * 2, policy.backoff_max_s)
