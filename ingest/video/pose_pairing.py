"""Pairing a drone frame with the pose at its capture time: interpolated between the two fix samples around it,
angles on the circle, refused beyond a gap, never extrapolated.

Rules (`pair(t)`), with `g` the configured `max_gap_s`:

- a sample at exactly `t`: that sample, offset 0;
- between two fix samples: linear interpolation of lat/lon/altitudes/hfov and circular interpolation of every
  angle (yaw 179 -> -179 passes 180, not 0), provided the nearer one is within `g` and the two are at most `2g`
  apart; otherwise refused `pose_gap` (a hole in the telemetry is not bridged by a straight line);
- before the first or after the last fix sample, within `g`: that sample's values (no extrapolation);
- no fix sample near: `no_fix` when samples without a fix are within `g` (DJI 0,0 in the dock), else `pose_gap`;
  an empty track: `no_poses`.

The paired pose has the frame's time; `offset_s` is the distance to the nearest real sample used. `PoseTrack`
is built once from a sorted or unsorted sequence (files); `LivePoseTrack` is appended to from the MQTT pose
stream and keeps a bounded history, safe to use from several threads.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from ingest.models import Pose
from ingest.video.frames import Frame

__all__ = ["LivePoseTrack", "PairResult", "PoseTrack", "interpolate_angle", "pair_frame"]

_ANGLES = ("yaw", "pitch", "roll", "gimbal_yaw", "gimbal_pitch", "gimbal_roll")
_LINEAR = ("alt_rel_m", "alt_abs_m", "hfov_deg", "lat")


@dataclass(frozen=True, slots=True)
class PairResult:
    """The pose at a time, or None with the reason (`pose_gap`, `no_fix`, `no_poses`); `offset_s` is the distance
    in seconds to the nearest sample considered (None when there was none)."""

    pose: Pose | None
    offset_s: float | None
    reason: str | None = None


def interpolate_angle(a: float, b: float, f: float) -> float:
    """The angle a fraction `f` of the way from `a` to `b` along the shorter arc, in [-180, 180)."""
    d = (b - a + 180.0) % 360.0 - 180.0
    return (a + f * d + 180.0) % 360.0 - 180.0


def _lerp(a: float | None, b: float | None, f: float, nearest: float | None) -> float | None:
    if a is None or b is None:
        return nearest
    return a + f * (b - a)


def _interpolate(p0: Pose, p1: Pose, t: float, when: datetime) -> Pose:
    t0, t1 = p0.time.timestamp(), p1.time.timestamp()
    f = (t - t0) / (t1 - t0)
    near = p0 if f <= 0.5 else p1
    values: dict[str, float | None] = {}
    for name in _LINEAR:
        values[name] = _lerp(getattr(p0, name), getattr(p1, name), f, getattr(near, name))
    lon0, lon1 = p0.lon, p1.lon
    assert lon0 is not None and lon1 is not None  # fix samples only
    values["lon"] = interpolate_angle(lon0, lon1, f) if abs(lon1 - lon0) > 180.0 else lon0 + f * (lon1 - lon0)
    for name in _ANGLES:
        a, b = getattr(p0, name), getattr(p1, name)
        values[name] = interpolate_angle(a, b, f) if a is not None and b is not None else getattr(near, name)
    return replace(near, time=when, **values)


def _pair(times: Sequence[float], fixes: Sequence[Pose], all_times: Sequence[float], t: datetime,
          max_gap_s: float) -> PairResult:
    """Shared by both tracks: `times`/`fixes` the fix samples in time order, `all_times` every sample's time."""
    if not all_times:
        return PairResult(None, None, "no_poses")
    ts = t.timestamp()
    i = bisect.bisect_left(times, ts)
    before = i - 1 if i > 0 else None
    after = i if i < len(times) else None
    if after is not None and times[after] == ts:
        return PairResult(replace(fixes[after], time=t), 0.0)
    gaps = [abs(ts - times[k]) for k in (before, after) if k is not None]
    nearest = min(gaps) if gaps else None
    if nearest is None or nearest > max_gap_s:
        j = bisect.bisect_left(all_times, ts)
        any_near = min((abs(ts - all_times[k]) for k in (j - 1, j) if 0 <= k < len(all_times)), default=None)
        if any_near is not None and any_near <= max_gap_s:
            return PairResult(None, any_near, "no_fix")
        return PairResult(None, nearest if nearest is not None else any_near, "pose_gap")
    if before is None or after is None:
        k = before if after is None else after
        assert k is not None
        return PairResult(replace(fixes[k], time=t), nearest)
    if times[after] - times[before] > 2.0 * max_gap_s:
        return PairResult(None, nearest, "pose_gap")
    return PairResult(_interpolate(fixes[before], fixes[after], ts, t), nearest)


class PoseTrack:
    """The poses of one drone over a recorded flight (or any fixed set), for pairing frames by time."""

    def __init__(self, poses: Sequence[Pose], *, max_gap_s: float) -> None:
        if max_gap_s <= 0:
            raise ValueError(f"max_gap_s must be positive, got {max_gap_s}")
        ordered = sorted(poses, key=lambda p: p.time)
        self.max_gap_s = max_gap_s
        self._all = [p.time.timestamp() for p in ordered]
        self._fixes = [p for p in ordered if p.has_fix]
        self._times = [p.time.timestamp() for p in self._fixes]

    def __len__(self) -> int:
        return len(self._all)

    def pair(self, t: datetime) -> PairResult:
        return _pair(self._times, self._fixes, self._all, t, self.max_gap_s)


class LivePoseTrack:
    """A drone's recent poses as they arrive (MQTT), for pairing live frames. Poses may arrive slightly out of
    order and are kept sorted; those older than `history_s` before the newest, and any beyond `max_samples`, are
    dropped oldest first, so memory stays bounded however long the flight."""

    def __init__(self, *, max_gap_s: float, history_s: float, max_samples: int = 100_000) -> None:
        if max_gap_s <= 0 or history_s <= 0 or max_samples < 1:
            raise ValueError("max_gap_s, history_s and max_samples must be positive")
        self.max_gap_s = max_gap_s
        self.history_s = history_s
        self.max_samples = max_samples
        self._lock = threading.Lock()
        self._all: list[float] = []
        self._times: list[float] = []
        self._fixes: list[Pose] = []

    def __len__(self) -> int:
        with self._lock:
            return len(self._all)

    def add(self, pose: Pose) -> None:
        self.extend((pose,))

    def extend(self, poses: Iterable[Pose]) -> None:
        with self._lock:
            for p in poses:
                ts = p.time.timestamp()
                bisect.insort(self._all, ts)
                if p.has_fix:
                    k = bisect.bisect_right(self._times, ts)
                    self._times.insert(k, ts)
                    self._fixes.insert(k, p)
            self._trim()

    def _trim(self) -> None:
        if not self._all:
            return
        oldest = self._all[-1] - self.history_s
        cut = max(bisect.bisect_left(self._all, oldest), len(self._all) - self.max_samples)
        if cut > 0:
            edge = self._all[cut]
            del self._all[:cut]
            k = bisect.bisect_left(self._times, edge)
            del self._times[:k]
            del self._fixes[:k]

    def pair(self, t: datetime) -> PairResult:
        with self._lock:
            return _pair(self._times, self._fixes, self._all, t, self.max_gap_s)


def pair_frame(frame: Frame, track: PoseTrack | LivePoseTrack) -> None:
    """Set the frame's pose, offset and (when unpaired) the reason it stays unplaced."""
    result = track.pair(frame.time)
    frame.pose = result.pose
    frame.pose_offset_s = result.offset_s
    frame.unplaced_reason = result.reason
