"""Each drone's recent poses as the ingest writer commits them, so its live frames can be paired with the pose
at their capture time. Only devices that film (a drone stream names them) are kept, each in a bounded track."""

from __future__ import annotations

from collections.abc import Iterable

from ingest.models import Pose, Reading
from ingest.video.config import PosePairingConfig
from ingest.video.frames import Frame
from ingest.video.pose_pairing import LivePoseTrack, pair_frame


class LivePoses:
    def __init__(self, devices: Iterable[str], config: PosePairingConfig) -> None:
        self.tracks = {d: LivePoseTrack(max_gap_s=config.max_gap_s, history_s=config.history_s) for d in devices}

    def on_stored(self, _readings: list[Reading], poses: list[Pose]) -> None:
        """Ingest writer hook: called after each committed batch."""
        for p in poses:
            track = self.tracks.get(p.device_id)
            if track is not None:
                track.add(p)

    def pair(self, frame: Frame) -> None:
        track = self.tracks.get(frame.device_id)
        if track is None:
            frame.pose, frame.unplaced_reason = None, "no_pose_source"
            return
        pair_frame(frame, track)
