"""Importing patrol photos: each photo's original kept in the media store under its hash, its pose read from its
XMP/EXIF and stored in `poses` (source "xmp"), its ground footprint computed, and the decoded image handed to the
detection stage as a `Frame`.

A photo is reported placed (pose and, when the geometry allows, footprint) or refused with a stable reason:
`too_large` (over `max_bytes`; not stored), `not_jpeg` / `truncated` / `bad_exif` (the metadata parser's),
`undecodable` (OpenCV cannot decode the image), the pose refusals of `ingest.telemetry.xmp.photo_pose`
(`gps_invalid`, `no_position`, `zero_position`, `bad_position`, `no_time`, `bad_time`) and `unknown_device`.
Every photo that arrived within the size limit is stored, refused or not, so what was received can be shown.
A decodable photo reaches the sink placed or not: frames without a usable pose still flow, marked unplaced.

The footprint geometry is the caller's (`footprint=`): this package does not import `geo` (the layering keeps
ingest free of our other packages), the gateway passes the function that uses it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

import psycopg

from ingest.models import Pose
from ingest.telemetry.xmp import PhotoMeta, PhotoMetaError, Refusal, parse_photo_meta, photo_pose, photo_time
from ingest.video.frames import Frame, FrameSink, FrameTime

if TYPE_CHECKING:
    import numpy as np

    from evidence.media import MediaStore

__all__ = ["DEFAULT_MAX_BYTES", "FootprintFn", "PhotoImporter", "PhotoOutcome", "decode_image"]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024  # a 48 MP DJI JPEG is about 25 MB
STREAM_PREFIX = "photos"

# (metadata, pose) -> a GeoJSON Feature of the ground the photo covers, or the Refusal saying why there is none.
FootprintFn = Callable[[PhotoMeta, Pose], "dict[str, Any] | Refusal"]

_INSERT_POSE = """
INSERT INTO poses (time, device_id, lat, lon, has_fix, alt_rel_m, alt_abs_m, yaw, pitch, roll, gimbal_yaw,
                   gimbal_pitch, gimbal_roll, hfov_deg, source, gateway_sn, extra, received_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING
"""


@dataclass(frozen=True)
class PhotoOutcome:
    """What became of one photo. `placed`: it has a pose; `footprint` is None when the geometry gave none
    (`footprint_reason` says why). `pose_stored` is False for a pose already in `poses` (same device and time)."""

    name: str
    sha256: str
    size: int
    stored: bool
    placed: bool
    reason: str | None = None
    detail: str | None = None
    pose: Pose | None = None
    footprint: dict[str, Any] | None = None
    footprint_reason: str | None = None
    pose_stored: bool = False
    width: int | None = None
    height: int | None = None
    time: datetime | None = None
    meta: PhotoMeta | None = field(default=None, repr=False)

    @property
    def centre(self) -> tuple[float, float] | None:
        """(lon, lat) of the footprint's centre when there is one, else of the camera."""
        if self.footprint is not None:
            c = self.footprint.get("properties", {}).get("centre")
            if c is not None:
                return float(c[0]), float(c[1])
        if self.pose is not None and self.pose.lat is not None and self.pose.lon is not None:
            return self.pose.lon, self.pose.lat
        return None

    def as_json(self) -> dict[str, Any]:
        """The outcome as the CLI's --json line and the API's answer carry it."""
        p = self.pose
        return {
            "name": self.name, "sha256": self.sha256, "size": self.size, "stored": self.stored,
            "placed": self.placed, "reason": self.reason, "detail": self.detail,
            "time": self.time.isoformat() if self.time else None,
            "width": self.width, "height": self.height,
            "pose": None if p is None else {
                "device_id": p.device_id, "time": p.time.isoformat(), "lat": p.lat, "lon": p.lon,
                "alt_rel_m": p.alt_rel_m, "alt_abs_m": p.alt_abs_m, "yaw": p.yaw, "pitch": p.pitch, "roll": p.roll,
                "gimbal_yaw": p.gimbal_yaw, "gimbal_pitch": p.gimbal_pitch, "gimbal_roll": p.gimbal_roll,
                "hfov_deg": p.hfov_deg},
            "pose_stored": self.pose_stored, "footprint": self.footprint, "footprint_reason": self.footprint_reason,
            "centre": list(self.centre) if self.centre else None,
        }


def decode_image(data: bytes) -> np.ndarray | None:
    """BGR uint8 image, or None when OpenCV cannot decode the bytes."""
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    return image if image is not None and image.size else None


class PhotoImporter:
    """Imports photos one at a time (`import_photo`); safe to share between threads (the store connection is
    used under a lock). Close it, or use it as a context manager, to release the connection."""

    def __init__(self, database_url: str, media_store: MediaStore, sink: FrameSink, *, tz: tzinfo,
                 max_bytes: int = DEFAULT_MAX_BYTES, footprint: FootprintFn | None = None) -> None:
        self.database_url = database_url
        self.media = media_store
        self.sink = sink
        self.tz = tz
        self.max_bytes = max_bytes
        self.footprint = footprint
        self._lock = threading.Lock()
        self._conn: psycopg.Connection | None = None
        self._known: dict[str, bool] = {}
        self._seq = itertools.count(1)

    def __enter__(self) -> PhotoImporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def import_photo(self, name: str, data: bytes, device_id: str | None) -> PhotoOutcome:
        size = len(data)
        if size > self.max_bytes:
            return PhotoOutcome(name, hashlib.sha256(data).hexdigest(), size, stored=False, placed=False,
                                reason="too_large", detail=f"the photo is {size} bytes, the limit is {self.max_bytes}")
        sha = self.media.put(data).sha256
        base: dict[str, Any] = {"name": name, "sha256": sha, "size": size, "stored": True}
        try:
            meta = parse_photo_meta(data)
        except PhotoMetaError as exc:
            return PhotoOutcome(**base, placed=False, reason=exc.reason, detail=exc.detail)
        image = decode_image(data)
        if image is None:
            return PhotoOutcome(**base, placed=False, reason="undecodable", detail="OpenCV cannot decode the image "
                                "data (corrupt or not a baseline/progressive JPEG)", meta=meta)
        base.update(width=int(image.shape[1]), height=int(image.shape[0]), meta=meta)
        received = datetime.now(UTC)
        when = photo_time(meta, self.tz)
        result: Pose | Refusal = photo_pose(meta, device_id or "", self.tz)
        if isinstance(result, Pose) and device_id is not None and not self._device_known(device_id):
            result = Refusal("unknown_device", f"device {device_id!r} is not registered (enforcegw devices add)")
        if isinstance(result, Refusal):
            outcome = PhotoOutcome(**base, placed=False, reason=result.reason, detail=result.detail,
                                   time=when if isinstance(when, datetime) else None)
        else:
            pose = Pose(**{**_fields(result), "received_at": received})
            fp, fp_reason = self._footprint(meta, pose)
            stored = self._store_pose(pose) if device_id is not None else False
            outcome = PhotoOutcome(**base, placed=True, pose=pose, footprint=fp, footprint_reason=fp_reason,
                                   pose_stored=stored, time=pose.time)
        self._hand_over(outcome, image, device_id, when, received)
        return outcome

    def _footprint(self, meta: PhotoMeta, pose: Pose) -> tuple[dict[str, Any] | None, str | None]:
        if self.footprint is None:
            return None, "no footprint function configured"
        got = self.footprint(meta, pose)
        if isinstance(got, Refusal):
            return None, f"{got.reason}: {got.detail}"
        return got, None

    def _hand_over(self, outcome: PhotoOutcome, image: np.ndarray, device_id: str | None,
                   when: datetime | Refusal, received: datetime) -> None:
        exif_time = isinstance(when, datetime)
        frame = Frame(stream_id=f"{STREAM_PREFIX}:{device_id or '-'}", device_id=device_id or "",
                      seq=next(self._seq), image=image, time=when if isinstance(when, datetime) else received,
                      time_source=FrameTime.EXIF if exif_time else FrameTime.ARRIVAL, received_at=received,
                      pose=outcome.pose, pose_offset_s=0.0 if outcome.placed else None,
                      unplaced_reason=None if outcome.placed else outcome.reason, media_sha256=outcome.sha256)
        self.sink.put(frame)

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self.database_url, autocommit=True)
        return self._conn

    def _device_known(self, device_id: str) -> bool:
        with self._lock:
            if device_id not in self._known:
                row = self._connection().execute("SELECT 1 FROM devices WHERE id = %s", (device_id,)).fetchone()
                self._known[device_id] = row is not None
            return self._known[device_id]

    def _store_pose(self, p: Pose) -> bool:
        row = (p.time, p.device_id, p.lat, p.lon, p.has_fix, p.alt_rel_m, p.alt_abs_m, p.yaw, p.pitch, p.roll,
               p.gimbal_yaw, p.gimbal_pitch, p.gimbal_roll, p.hfov_deg, p.source, p.gateway_sn,
               json.dumps(p.extra, default=str), p.received_at)
        with self._lock:
            return self._connection().execute(_INSERT_POSE, row).rowcount == 1


def _fields(p: Pose) -> dict[str, Any]:
    return {name: getattr(p, name) for name in p.__dataclass_fields__}
