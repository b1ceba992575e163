"""`enforcegw photos import DIR [--device ID] [--json]`: a patrol flight's photos, each stored under its hash,
placed from its XMP/EXIF pose with its footprint on the ground, or refused with the reason; one line per photo and
a summary. Exit 1 when a photo was refused.

Also the footprint geometry the importer is given (`photo_footprint`), shared with `POST /api/media/photos`:
geo.footprint's coverage polygon (clipped at the horizon or range limit) with geo.camera_models' intrinsics, as a
GeoJSON Feature.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from tqdm import tqdm

from evidence.media import FileMediaStore
from gateway.config import Settings, load_settings
from gateway.errors import InputError
from gateway.store.connect import resolve_database_url
from gateway.store.migrate import apply_migrations
from geo.camera import CameraIntrinsics, DronePose, NoPositionError
from geo.camera_models import IntrinsicsUnavailable, focal_plane_px_per_mm, intrinsics_for_photo
from geo.footprint import photo_footprint as footprint_of
from ingest.models import Pose
from ingest.photos.importer import DEFAULT_MAX_BYTES, PhotoImporter, PhotoOutcome
from ingest.telemetry.xmp import PhotoMeta, Refusal
from ingest.video.frames import Frame

PHOTO_SUFFIXES = (".jpg", ".jpeg")


# --- footprint -------------------------------------------------------------------------------------------


def photo_intrinsics(meta: PhotoMeta, width: int, height: int) -> CameraIntrinsics | Refusal:
    """Intrinsics for the decoded image (geo.camera_models: DJI's calibrated focal length where the XMP has it,
    else the camera table's sensor, the focal-plane resolution or the 35 mm equivalent)."""
    per_mm = None
    if meta.focal_plane_x_res:
        per_mm = focal_plane_px_per_mm(meta.focal_plane_x_res, meta.focal_plane_unit)
    try:
        return intrinsics_for_photo(meta.model, width, height, focal_mm=meta.focal_mm, focal_35mm=meta.focal_35mm,
                                    calibrated_focal_px=meta.calibrated_focal_px,
                                    calibrated_cx_px=meta.calibrated_cx_px, calibrated_cy_px=meta.calibrated_cy_px,
                                    full_w=meta.exif_width, full_h=meta.exif_height, focal_plane_x_px_per_mm=per_mm)
    except IntrinsicsUnavailable as exc:
        return Refusal(exc.reason, exc.detail)


def photo_footprint(meta: PhotoMeta, pose: Pose) -> dict[str, Any] | Refusal:
    """The ground the photo covers (geo.footprint, flat ground at take-off height) as a GeoJSON Feature, or why
    it cannot be computed."""
    if pose.alt_rel_m is None or pose.alt_rel_m <= 0:
        return Refusal("no_height", f"RelativeAltitude {pose.alt_rel_m} is not above the take-off point")
    if pose.gimbal_pitch is None or pose.gimbal_yaw is None or pose.lat is None or pose.lon is None:
        return Refusal("no_attitude", "the photo has no drone-dji:GimbalPitchDegree/GimbalYawDegree")
    if not meta.width or not meta.height:
        return Refusal("no_size", "the JPEG has no frame header with the image size")
    cam = photo_intrinsics(meta, meta.width, meta.height)
    if isinstance(cam, Refusal):
        return cam
    try:
        drone = DronePose.from_dji(pose.lat, pose.lon, pose.alt_rel_m, pose.gimbal_yaw, pose.gimbal_pitch,
                                   pose.gimbal_roll or 0.0, gimbal_reverse=bool(meta.gimbal_reverse),
                                   cam_reverse=bool(meta.cam_reverse), device_id=pose.device_id or None,
                                   time=pose.time)
    except NoPositionError as exc:
        return Refusal("zero_position", str(exc))
    fp = footprint_of(drone, cam)
    if fp is None:
        return Refusal("above_horizon", f"no part of the image meets the ground within range (gimbal pitch "
                       f"{pose.gimbal_pitch})")
    return fp.to_geojson(camera=[pose.lon, pose.lat], height_agl_m=pose.alt_rel_m,
                         hfov_deg=math.degrees(2 * math.atan(cam.width / (2 * cam.fx))), focal_source=cam.source)


# --- the command -----------------------------------------------------------------------------------------


@dataclass
class CountingSink:
    """The CLI's detection stage stand-in: counts the frames it is given and keeps their ids, not their images."""

    placed: int = 0
    unplaced: int = 0
    frames: list[tuple[str, int, str | None, bool]] = field(default_factory=list)

    def put(self, frame: Frame) -> None:
        if frame.placed:
            self.placed += 1
        else:
            self.unplaced += 1
        self.frames.append((frame.stream_id, frame.seq, frame.media_sha256, frame.placed))


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("photos", help="Patrol photo sets.")
    sub = p.add_subparsers(dest="photos_command", metavar="ACTION", required=True)
    imp = sub.add_parser("import", help="Store a directory's photos under their hashes, place each from its DJI "
                         "XMP/EXIF pose with its ground footprint, or report why not.")
    imp.add_argument("dir", type=Path, metavar="DIR", help="A directory of .jpg/.jpeg photos (or one photo).")
    imp.add_argument("--device", help="The registered drone that took them: their poses are stored for it.")
    imp.add_argument("--tz", help="Zone of photo times that carry no offset (DJI writes local time); default "
                     "api.console.timezone.")
    imp.add_argument("--json", action="store_true", help="One JSON object per photo, then a summary object.")
    imp.add_argument("--no-progress", action="store_true", help="No progress bar.")
    imp.set_defaults(func=_import)


def photo_files(path: Path) -> list[Path]:
    """The photos to import: the file itself, or the directory's photo files in name order (not recursive)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(f"{path}: no such file or directory")
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"--tz {name!r} is not a known time zone (e.g. Asia/Shanghai)") from None


def media_store(settings: Settings) -> FileMediaStore:
    return FileMediaStore(settings.evidence.resolved_media_dir(settings.data_dir))


def _line(o: PhotoOutcome) -> str:
    if not o.placed:
        return f"{o.name}: refused {o.reason}: {o.detail}"
    c = o.centre
    where = f"footprint centre {c[1]:.7f}, {c[0]:.7f}" if o.footprint and c else \
        f"camera at {o.pose.lat:.7f}, {o.pose.lon:.7f} (no footprint: {o.footprint_reason})" if o.pose else ""
    if o.pose_stored:
        note = ""
    elif o.pose is not None and not o.pose.device_id:
        note = " (no --device: pose not stored)"
    else:
        note = ", pose already stored"
    return f"{o.name}: placed, {where}{note}"


def _import(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    tz = _zone(args.tz or settings.api.console.timezone)
    files = photo_files(args.dir)
    sink = CountingSink()
    reasons: Counter[str] = Counter()
    placed = stored = 0
    with resolve_database_url(settings) as url:
        apply_migrations(url, allow_timescale=settings.database.timescaledb)
        if args.device is not None:
            with psycopg.connect(url) as conn:
                if conn.execute("SELECT 1 FROM devices WHERE id = %s", (args.device,)).fetchone() is None:
                    raise InputError(f"--device {args.device!r} is not registered (enforcegw devices import)")
        with PhotoImporter(url, media_store(settings), sink, tz=tz, max_bytes=DEFAULT_MAX_BYTES,
                           footprint=photo_footprint) as importer:
            bar = tqdm(files, unit="photo", desc="photos", disable=args.no_progress or not files)
            for path in bar:
                outcome = importer.import_photo(path.name, path.read_bytes(), args.device)
                placed += outcome.placed
                stored += outcome.pose_stored
                if outcome.reason and not outcome.placed:
                    reasons[outcome.reason] += 1
                bar.write(json.dumps(outcome.as_json(), ensure_ascii=False) if args.json else _line(outcome))
    refused = len(files) - placed
    summary = {"photos": len(files), "placed": placed, "refused": refused, "poses_stored": stored,
               "refused_by_reason": dict(sorted(reasons.items())), "frames_to_detection": len(sink.frames)}
    if args.json:
        print(json.dumps({"summary": summary}, ensure_ascii=False))
    else:
        why = ", ".join(f"{k} {n}" for k, n in sorted(reasons.items()))
        print(f"{len(files)} photos: {placed} placed, {refused} refused{f' ({why})' if why else ''}; "
              f"{stored} poses stored; {len(sink.frames)} frames handed to detection")
    return 1 if refused else 0
