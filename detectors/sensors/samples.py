"""How the engine holds readings: plain tuples of atomic values, turned back into `WindowReading`s only when
an event needs them.

Why: CPython's cyclic GC stops tracking an exact tuple whose items are all untracked (str, float, int,
datetime, None), but it tracks every dataclass or namedtuple instance. Window state holds every reading of
every window (hundreds of thousands at 5,000 readings/s), and a full collection walks every tracked object while
all threads wait: with reading objects in the windows, those pauses would land directly on alert latency.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from operator import attrgetter
from typing import Any, NamedTuple

# Field positions in a packed sample (the hot path indexes them directly).
TIME, DEVICE_ID, METRIC, VALUE, SEQ, RECEIVED_AT, TOPIC = range(7)

Sample = tuple  # (time, device_id, metric, value, seq, received_at, topic)


class WindowReading(NamedTuple):
    """A reading as events carry it (same attribute names as ingest.models.Reading)."""

    time: datetime
    device_id: str
    metric: str
    value: float
    seq: int | None
    received_at: datetime | None
    topic: str | None


# A reading-like object (ingest.models.Reading) as a plain tuple; attrgetter builds it in C (hot path).
pack: Callable[[Any], Sample] = attrgetter("time", "device_id", "metric", "value", "seq", "received_at", "topic")


def unpack(samples: tuple[Sample, ...]) -> tuple[WindowReading, ...]:
    return tuple(map(WindowReading._make, samples))
