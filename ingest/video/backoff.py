"""Reconnect back-off: exponential growth to a ceiling, with jitter so streams dropped together (a media server
restart) do not all reconnect in the same instant.

`jitter` is the fraction of each delay drawn at random: 0 is the plain exponential delay, 1 is "full jitter"
(uniform between 0 and the delay), values between are "partial jitter" (the fixed part plus a random part).
"""

from __future__ import annotations

import random

from ingest.video.config import ReconnectConfig


def backoff_delay(attempt: int, *, initial_s: float, max_s: float, multiplier: float, jitter: float,
                  u: float) -> float:
    """The delay before retry number `attempt` (0 for the first retry), `u` a uniform draw in [0, 1)."""
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError("jitter must be within [0, 1]")
    # the exponent is capped so a stream down for days does not overflow the float
    base = min(max_s, initial_s * multiplier ** min(attempt, 64))
    return base * (1.0 - jitter) + base * jitter * u


class Backoff:
    """The delays of one stream's consecutive retries; `reset()` after the stream has been live for a while."""

    def __init__(self, initial_s: float, max_s: float, multiplier: float, jitter: float,
                 rng: random.Random | None = None) -> None:
        self.initial_s, self.max_s, self.multiplier, self.jitter = initial_s, max(max_s, initial_s), multiplier, jitter
        self.rng = rng or random.Random()
        self.attempt = 0

    @classmethod
    def from_config(cls, config: ReconnectConfig, rng: random.Random | None = None) -> Backoff:
        return cls(config.initial_s, config.max_s, config.multiplier, config.jitter, rng)

    def next_delay(self) -> float:
        delay = backoff_delay(self.attempt, initial_s=self.initial_s, max_s=self.max_s,
                              multiplier=self.multiplier, jitter=self.jitter, u=self.rng.random())
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
