"""A recorded flight or camera file through the same path as a live stream: decoded with the live reader, sampled
to the stream's rate, each frame paired with the flight's telemetry at its capture time, handed to the frame
stage (which, for a recording, waits for room rather than dropping).

The recording's clock: a DJI `.SRT` names the local time of each cue and the cue's offset in the video, so the
video starts at (cue time - cue offset); otherwise the caller says when it started (`--start`), else the file's
own creation_time, else the frames carry their arrival time and are marked so."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import av

from gateway.video.frame_stage import FrameStage
from ingest.models import Pose
from ingest.video.frames import Frame, FrameTime
from ingest.video.pose_pairing import PoseTrack, pair_frame
from ingest.video.pyav_source import PyAvSource
from ingest.video.sampling import FpsSampler

Progress = Callable[[float], None]  # seconds of video read so far


@dataclass
class RecordedSummary:
    video: str
    duration_s: float | None
    start: datetime | None
    start_from: str  # telemetry, --start, creation_time, arrival
    frames_decoded: int = 0
    frames_kept: int = 0
    placed: int = 0
    unplaced: Counter[str] = field(default_factory=Counter)
    first_time: datetime | None = None
    last_time: datetime | None = None
    time_source: str | None = None
    corrupt: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"video": self.video, "duration_s": self.duration_s,
                "start": None if self.start is None else self.start.isoformat(), "start_from": self.start_from,
                "frames_decoded": self.frames_decoded, "frames_kept": self.frames_kept, "placed": self.placed,
                "unplaced": dict(self.unplaced), "corrupt": self.corrupt,
                "first_time": None if self.first_time is None else self.first_time.isoformat(),
                "last_time": None if self.last_time is None else self.last_time.isoformat(),
                "time_source": self.time_source}


def video_duration_s(path: Path) -> float | None:
    """The container's duration (for the progress bar); None when the file does not say."""
    try:
        with av.open(str(path)) as c:
            if c.duration is not None:
                return c.duration / 1_000_000
            s = c.streams.video[0] if c.streams.video else None
            if s is not None and s.duration is not None and s.time_base is not None:
                return float(s.duration * s.time_base)
    except (av.error.FFmpegError, OSError):
        return None
    return None


def start_from_telemetry(poses: Sequence[Pose]) -> datetime | None:
    """The video's start from an `.SRT`: the first cue's time minus its offset in the video."""
    for p in poses:
        offset = p.extra.get("video_offset_s") if p.extra else None
        if isinstance(offset, int | float):
            return p.time - timedelta(seconds=float(offset))
    return None


def analyze_recording(path: Path, *, stream_id: str, device_id: str, fps: float, stage: FrameStage,
                      track: PoseTrack | None, start: datetime | None, start_from: str,
                      progress: Progress | None = None) -> RecordedSummary:
    """Read the whole file into the stage; returns what was read, placed and why frames were not."""
    summary = RecordedSummary(video=str(path), duration_s=video_duration_s(path), start=start, start_from=start_from)
    source = PyAvSource(str(path), sampler=FpsSampler(fps), file_start=start)
    seq = 0
    with source:
        for sf in source:
            frame = Frame(stream_id=stream_id, device_id=device_id, seq=seq, image=sf.image, time=sf.capture_time,
                          time_source=sf.time_source, received_at=datetime.now(sf.capture_time.tzinfo),
                          pts_s=sf.pts_s)
            seq += 1
            if track is not None:
                pair_frame(frame, track)
            else:
                frame.unplaced_reason = "no_telemetry"
            if frame.placed:
                summary.placed += 1
            else:
                summary.unplaced[frame.unplaced_reason or "unplaced"] += 1
            summary.first_time = summary.first_time or frame.time
            summary.last_time = frame.time
            summary.time_source = str(frame.time_source)
            stage.put(frame)
            if progress is not None and sf.pts_s is not None:
                progress(sf.pts_s)
    c = source.counters
    summary.frames_decoded, summary.frames_kept, summary.corrupt = c.decoded, c.kept, c.corrupt
    if summary.time_source is None:
        summary.time_source = str(FrameTime.FILE if start else FrameTime.ARRIVAL)
    return summary
