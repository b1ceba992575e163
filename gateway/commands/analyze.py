"""`enforcegw analyze VIDEO [--telemetry FILE] [--zones FILE] ...`: a recorded flight or camera file through the
live pipeline's reader, pairing and frame stage, with a progress bar and a summary of what was read, where it was
placed and over which zones it flew. With `--detect` the frames also go through object detection and the video
violation rules (the `detection:` settings), and the alerts and their evidence are written to the store as the live
gateway writes them; the summary then lists them."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from evidence.log import EvidenceLog
from gateway.catalogue import load_catalogue, zone_kinds
from gateway.config import Settings, load_settings
from gateway.errors import InputError
from gateway.store.connect import resolve_database_url
from gateway.store.migrate import apply_migrations
from gateway.video.detection import VideoDetection
from gateway.video.frame_stage import FrameStage
from gateway.video.ground import ZoneCounter
from gateway.video.recorded import RecordedSummary, analyze_recording, start_from_telemetry, video_duration_s
from gateway.zone_service import ZoneService
from geo.geojson_io import load_zones_file
from geo.registry import ZoneIndex, ZoneRegistry
from geo.zones import Zone
from ingest.telemetry.detect import parse_telemetry
from ingest.telemetry.records import TelemetryFileError
from ingest.video.pose_pairing import PoseTrack
from ingest.video.state import SourceError

DEFAULT_TZ = "Asia/Shanghai"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("analyze", help="Read a recorded flight or camera file with its telemetry through the "
                              "live pipeline (frames, poses, zones), with a progress bar and a summary.")
    p.add_argument("video", type=Path, help="the video file (MP4/MOV/MKV/TS/FLV...)")
    p.add_argument("--telemetry", type=Path,
                   help="its telemetry: a DJI .SRT or a MAVLink .tlog (the format read from the content)")
    p.add_argument("--zones", type=Path, help="GeoJSON zones to count the frames' ground centres in")
    p.add_argument("--device", default="recorded", help="the device that filmed (default: recorded)")
    p.add_argument("--start", help="when the video started (ISO 8601; local time in --tz without an offset); "
                   "default: from the .SRT, else the file's creation_time")
    p.add_argument("--tz", default=DEFAULT_TZ, help=f"zone of times written without one (default {DEFAULT_TZ}; "
                   "DJI writes local time)")
    p.add_argument("--fps", type=float, default=5.0, help="frames per second handed on (default 5)")
    p.add_argument("--hfov", type=float, help="camera horizontal field of view in degrees, where the telemetry "
                   "has none (needed to place frames on the ground)")
    p.add_argument("--detect", action="store_true",
                   help="detect objects and violations and write the alerts with their evidence to the store "
                   "(zones: --zones, else the store's)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=_analyze)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(f"--tz: unknown time zone {name!r}") from exc


def _start(text: str | None, tz: ZoneInfo) -> datetime | None:
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"--start: {text!r} is not an ISO 8601 time") from exc
    return t if t.tzinfo is not None else t.replace(tzinfo=tz)


def _analyze(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    if not args.video.is_file():
        raise InputError(f"{args.video}: no such file")
    if args.fps <= 0:
        raise InputError("--fps must be positive")
    tz = _zone(args.tz)
    start = _start(args.start, tz)
    track, start_from, telemetry = None, "--start" if start else "creation_time", None
    if args.telemetry is not None:
        try:
            telemetry = parse_telemetry(args.telemetry.read_bytes(), tz=tz, start=start, device_id=args.device)
        except TelemetryFileError as exc:
            raise InputError(f"{args.telemetry}: {exc.detail}") from exc
        if not telemetry.poses:
            print(f"warning: {args.telemetry}: no usable pose ({len(telemetry.refusals)} refused)", file=sys.stderr)
        track = PoseTrack(telemetry.poses, max_gap_s=settings.video.pose.max_gap_s)
        if start is None and (from_srt := start_from_telemetry(telemetry.poses)) is not None:
            start, start_from = from_srt, "telemetry"
    index, loaded = None, None
    if args.zones is not None:
        loaded = load_zones_file(args.zones, kinds=zone_kinds(load_catalogue(settings)))
        index = ZoneIndex.build(loaded.zones)
    counter = ZoneCounter(index, args.hfov)
    with ExitStack() as stack:
        detection = _detection(args, settings, loaded.zones if index is not None else None, stack) \
            if args.detect else None
        handlers = [counter] if detection is None else [counter, detection]
        summary, out = _run(args, settings, handlers, counter, track, start, start_from, telemetry, index)
        if detection is not None:
            detection.finish()
            out["alerts"] = _alerts(detection)
    if args.json:
        print(json.dumps(out, ensure_ascii=False, default=str))
    else:
        _print(out)
    return 0 if summary.frames_kept else 1


def _detection(args: argparse.Namespace, settings: Settings, zones: list[Zone] | None,
               stack: ExitStack) -> VideoDetection:
    """The live gateway's detection stage over the configured store and evidence log."""
    url = stack.enter_context(resolve_database_url(settings))
    apply_migrations(url, allow_timescale=settings.database.timescaledb)
    with psycopg.connect(url) as conn:  # alerts name their device: it must be one the registry knows
        if conn.execute("SELECT 1 FROM devices WHERE id = %s", (args.device,)).fetchone() is None:
            raise InputError(f"--device {args.device}: not a registered device (enforcegw devices import); "
                             "--detect writes alerts in its name")
    log = stack.enter_context(EvidenceLog.open(url, settings.evidence, settings.data_dir))
    # No gateway sequencer runs here: sign what this run appended, so its alerts export and verify at once.
    stack.callback(log.checkpoint)
    if zones is not None:
        registry = ZoneRegistry(zones)
    else:
        service = ZoneService(url)
        service.reload()
        registry = service.registry
    config = settings.detection.model_copy(update={"hfov_deg": args.hfov or settings.detection.hfov_deg})
    detection = VideoDetection(config, database_url=url, evidence=log, zones=registry)
    stack.callback(detection.close)
    return detection


def _alerts(detection: VideoDetection) -> dict[str, object]:
    w = detection.writer
    gates = [p.gate.counters for p in detection.pipelines.values()]
    return {"opened": w.written["new"], "ended": w.written["end"], "clips": w.written["clip"],
            "clue_codes": list(w.clue_codes), "frames_inferred": sum(g.inferred for g in gates),
            "frames_skipped": sum(g.skipped for g in gates)}


def _run(args: argparse.Namespace, settings: Settings, handlers: list, counter: ZoneCounter, track: PoseTrack | None,
         start: datetime | None, start_from: str, telemetry: object, index: ZoneIndex | None
         ) -> tuple[RecordedSummary, dict]:
    stage = FrameStage(settings.video.frame_queue, handlers, blocking=True)
    stage.start()
    duration = video_duration_s(args.video)
    with tqdm(total=round(duration, 1) if duration else None, unit="s", desc=args.video.name,
              disable=args.json or None) as bar:
        def progress(pts_s: float) -> None:
            bar.update(max(0.0, round(pts_s, 1) - bar.n))

        try:
            summary = analyze_recording(args.video, stream_id=f"file:{args.video.name}", device_id=args.device,
                                        fps=args.fps, stage=stage, track=track, start=start,
                                        start_from=start_from, progress=progress)
        except SourceError as exc:
            raise InputError(f"{args.video}: {exc} ({exc.reason})") from exc
        finally:
            stage.drain()
            stage.stop()
    out = {**summary.as_dict(), "telemetry": None if telemetry is None else {
        "file": str(args.telemetry), "format": telemetry.format, "poses": len(telemetry.poses),  # type: ignore
        "refused": len(telemetry.refusals)},  # type: ignore[attr-defined]
        "on_ground": len(counter.track), "not_on_ground": dict(counter.not_on_ground),
        "zones": dict(counter.per_zone), "outside_zones": counter.outside if index is not None else None,
        "handler_errors": sum(c.handler_errors for c in stage.counts().values())}
    return summary, out


def _print(out: dict) -> None:
    table = Table("", "", show_header=False)
    for key in ("video", "duration_s", "start", "start_from", "time_source", "frames_decoded", "frames_kept",
                "placed", "unplaced", "on_ground", "not_on_ground", "zones", "outside_zones", "telemetry",
                "handler_errors", "alerts"):
        value = out.get(key)
        table.add_row(key, "-" if value in (None, {}, []) else str(value))
    Console().print(table)
