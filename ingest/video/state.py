"""Stream states, the status record `streams list` and the API show, and what every source reports: its frames,
its counters and its errors.

A source (PyAV or MJPEG) yields `SourceFrame`s and raises only `SourceError`s, each with a stable reason code,
so the worker turns any failure into a state and a message without knowing which reader it ran.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Any, NamedTuple, Protocol

import numpy as np

from ingest.video.frames import FrameTime


class StreamState(StrEnum):
    CONNECTING = "connecting"  # opening the source, or waiting to retry after a failed attempt
    LIVE = "live"  # frames arriving
    STALLED = "stalled"  # no frame for stall_after_s: the source was closed and is being reopened
    FAILED = "failed"  # failed_after consecutive attempts without a frame; still retrying
    STOPPED = "stopped"  # stopped on request, or a file source reached its end


class SourceFrame(NamedTuple):
    """One frame a source kept: BGR image, the source's own PTS in seconds, capture time and its origin."""

    image: np.ndarray
    pts_s: float | None
    capture_time: datetime
    time_source: FrameTime


@dataclass
class SourceCounters:
    """Running totals of one source object (one connection)."""

    decoded: int = 0  # frames decoded (or MJPEG parts received)
    kept: int = 0  # frames converted and yielded
    dropped_sampling: int = 0  # decoded frames the sampler dropped (never converted)
    corrupt: int = 0  # packets or parts that failed to decode, skipped
    pts_resets: int = 0  # PTS jumps or resets that re-anchored the stream time


DecodeObserver = Callable[[float], None]  # seconds spent decoding (and converting) one frame


class SourceError(Exception):
    """A source failed; `reason` is a stable code (`refused`, `timeout`, `not_video`, `invalid_data`, `io`,
    `ended`, `stalled`, `http_status`, `too_corrupt`), the message says what happened in the source's words."""

    reason: str = "io"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class SourceOpenError(SourceError):
    """The source could not be opened (connect, HTTP status, probing the format)."""


class SourceStalled(SourceError):
    """The source gave no frame for its read timeout."""

    reason = "stalled"


class SourceEnded(SourceError):
    """The source ended (a file's end, or a live stream closed by its server)."""

    reason = "ended"


class VideoSource(Protocol):
    """What the worker reads: a context manager that opens on enter and iterates kept frames."""

    counters: SourceCounters
    is_file: bool

    def __enter__(self) -> VideoSource: ...

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None: ...

    def __iter__(self) -> Iterator[SourceFrame]: ...

    def interrupt(self) -> None:
        """From any thread: make the reading thread's iteration end soon."""

    def close(self) -> None: ...


@dataclass
class StreamStatus:
    """One stream's status as the worker last set it. `url` is masked (no password); `fps` is the measured rate
    of frames handed on over the last few seconds; `detail` has the counters that do not have a column."""

    id: str
    url: str
    device_id: str
    state: StreamState
    since: datetime
    last_error: str | None = None
    frames_read: int = 0
    frames_kept: int = 0
    reconnects: int = 0
    fps: float | None = None
    last_frame_at: datetime | None = None
    time_source: FrameTime | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: times as ISO 8601 strings, enums as their values."""
        return {
            "id": self.id, "url": self.url, "device_id": self.device_id, "state": str(self.state),
            "since": self.since.isoformat(), "last_error": self.last_error, "frames_read": self.frames_read,
            "frames_kept": self.frames_kept, "reconnects": self.reconnects,
            "fps": None if self.fps is None else round(self.fps, 2),
            "last_frame_at": None if self.last_frame_at is None else self.last_frame_at.isoformat(),
            "time_source": None if self.time_source is None else str(self.time_source),
            "detail": dict(self.detail),
        }
