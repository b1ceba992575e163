"""The lifecycle of video alerts, as sensor alerts have it: open, update, end.

One open alert per (rule, zone, subject) of a stream, the subject being the track (or the zone's plume for open
burning): the first frame a finding is in violation opens it, later frames update it, and a `Closed` from the
rules ends it (`left` after the exit inertia, `cleared`, `schedule_closed`). A track that steps out and back
within the inertia never produced a `Closed`, so it keeps its one alert.

Updates are not sent for every frame: one goes out when the best snapshot candidate improves (a higher score
with the anchor in the zone, which is what a finding is) or `update_interval_s` after the last event.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from detectors.video.tracks import TrackedObject
from detectors.video.violations import EndReason, FrameResult, Key

EventType = Literal["open", "update", "end"]


@dataclass(frozen=True, slots=True)
class VideoAlertEvent:
    """One transition of a video alert. `start` is when the violation began, `end` None until the end event,
    then the last time it was seen in violation. `latest` is the subject's object at `last_seen`; `best` the
    highest-scored one so far (the snapshot to keep); `frames` how many frames the alert has been active."""

    type: EventType
    alert_id: str
    stream_id: str
    rule_id: str
    zone_id: str | None
    subject: str
    kind: str
    start: datetime
    at: datetime
    last_seen: datetime
    end: datetime | None
    latest: TrackedObject
    best: TrackedObject
    frames: int
    figures: dict[str, Any] = field(default_factory=dict)
    end_reason: EndReason | None = None

    @property
    def key(self) -> Key:
        return (self.rule_id, self.zone_id, self.subject)


class _Open:
    __slots__ = ("best", "figures", "frames", "id", "kind", "last_emit", "last_seen", "latest", "start")

    def __init__(self, id: str, start: datetime, obj: TrackedObject, at: datetime, figures: dict[str, Any]) -> None:
        self.id = id
        self.start = start
        self.kind = obj.kind
        self.latest = obj
        self.best = obj
        self.last_seen = at
        self.last_emit = at
        self.frames = 1
        self.figures = figures


def _new_id() -> str:
    return uuid.uuid4().hex


class VideoAlerts:
    """Open alerts of one stream; `apply` each frame's `FrameResult` in time order."""

    def __init__(self, stream_id: str, *, update_interval_s: float = 10.0,
                 new_id: Callable[[], str] = _new_id) -> None:
        self.stream_id = stream_id
        self.update_interval_s = update_interval_s
        self._new_id = new_id
        self._open: dict[Key, _Open] = {}

    @property
    def open_keys(self) -> set[Key]:
        return set(self._open)

    def alert_id(self, key: Key) -> str | None:
        """The id of the open alert of (rule, zone, subject), if one is open."""
        a = self._open.get(key)
        return a.id if a is not None else None

    def _event(self, type: EventType, key: Key, a: _Open, at: datetime, reason: EndReason | None = None
               ) -> VideoAlertEvent:
        return VideoAlertEvent(
            type=type, alert_id=a.id, stream_id=self.stream_id, rule_id=key[0], zone_id=key[1], subject=key[2],
            kind=a.kind, start=a.start, at=at, last_seen=a.last_seen, end=a.last_seen if type == "end" else None,
            latest=a.latest, best=a.best, frames=a.frames, figures=dict(a.figures), end_reason=reason,
        )

    def apply(self, result: FrameResult) -> list[VideoAlertEvent]:
        """The events one frame's findings cause: ends first (a key may end and reopen in one frame)."""
        at = result.time
        events: list[VideoAlertEvent] = []
        for c in result.closed:
            a = self._open.pop(c.key, None)
            if a is not None:
                events.append(self._event("end", c.key, a, at, c.reason))
        for f in result.active:
            a = self._open.get(f.key)
            if a is None:
                a = self._open[f.key] = _Open(self._new_id(), f.since, f.obj, at, f.figures)
                events.append(self._event("open", f.key, a, at))
                continue
            a.latest, a.last_seen, a.figures = f.obj, at, f.figures
            a.frames += 1
            better = f.obj.score > a.best.score
            if better:
                a.best = f.obj
            if better or (at - a.last_emit).total_seconds() >= self.update_interval_s:
                a.last_emit = at
                events.append(self._event("update", f.key, a, at))
        return events

    def close_all(self, at: datetime, reason: EndReason = "left") -> list[VideoAlertEvent]:
        """End every open alert (the stream stopped)."""
        events = [self._event("end", k, a, at, reason) for k, a in self._open.items()]
        self._open.clear()
        return events
