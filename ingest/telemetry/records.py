"""What the telemetry file parsers return: the poses, the records refused with why, and the file's format."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ingest.models import PayloadError, Pose

__all__ = ["ParsedTelemetry", "Refusal", "TelemetryFileError"]


class TelemetryFileError(PayloadError):
    """A whole file is refused (unknown format, no date and no start time given); `reason` is a stable code."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """One record that gave no pose, or no position.

    `index` is the 1-based line of the SRT cue (or garbage block) or the 1-based message number in a tlog.
    `position_only`: the record still gave a pose, without a fix (lat/lon None), because its time and attitude
    are good: a 0,0 or empty GPS must not become a position, but the video pairing still needs the sample.
    """

    index: int
    reason: str
    detail: str
    position_only: bool = False


@dataclass(slots=True)
class ParsedTelemetry:
    """The result of parsing one telemetry file; `format` is "dji_srt", "dji_srt_bracketed" or "mavlink_tlog"."""

    format: str
    poses: list[Pose] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)

    def refused_by_reason(self, *, position_only: bool = False) -> dict[str, int]:
        """Counts per reason of the records refused whole (default) or of the positions refused."""
        return dict(Counter(r.reason for r in self.refusals if r.position_only == position_only))
