"""A decoded frame as every later stage sees it, and the interface of the stage that takes frames.

A frame carries its capture time and where that time came from (as a sensor reading records its time
source), so evidence built from it can say how the time was known.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

import numpy as np

from ingest.models import Pose


class FrameTime(StrEnum):
    """Where a frame's capture time came from."""

    STREAM = "stream"  # the stream's own timestamps (RTP/FLV/PTS) anchored to the wall clock at connect
    FILE = "file"  # a recorded file's PTS anchored to the recording's start (telemetry or --start)
    EXIF = "exif"  # a still photo's EXIF/XMP date and time
    ARRIVAL = "arrival"  # the time the frame was decoded here: the source had no usable timestamps


@dataclass(slots=True)
class Frame:
    """One decoded frame.

    `image` is BGR uint8 (height, width, 3), as OpenCV and ultralytics take it. `pts_s` is the source's own
    presentation time in seconds (None for sources without one). `pose` is set by pose pairing for drone
    sources: the interpolated pose at `time`, `pose_offset_s` the distance in seconds to the nearest real
    sample; a frame without a usable pose keeps `pose` None and says why in `unplaced_reason`.
    """

    stream_id: str
    device_id: str
    seq: int
    image: np.ndarray
    time: datetime
    time_source: FrameTime
    received_at: datetime
    pts_s: float | None = None
    pose: Pose | None = None
    pose_offset_s: float | None = None
    unplaced_reason: str | None = None
    media_sha256: str | None = None  # a still photo's original bytes in the media store

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def placed(self) -> bool:
        return self.pose is not None


class FrameSink(Protocol):
    """The detection stage's entry: takes a frame and returns at once (it queues or drops; never blocks the
    reader for long, since a reader that waits builds the backlog the sampler exists to avoid)."""

    def put(self, frame: Frame) -> None: ...
