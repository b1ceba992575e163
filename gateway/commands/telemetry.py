"""`enforcegw telemetry import FILE --device ID [--start ISO] [--tz ZONE] [--json]`: flight telemetry files
(DJI .SRT, MAVLink .tlog; the format is read from the content) into `poses`, with what was refused and why.

Exit 0 when the file's poses are in the store (stored now, or already there from an earlier import: importing
twice is not a failure), 1 when no pose could be stored, 2 for a file or device that cannot be used at all.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from gateway.commands.run import config_path
from gateway.config import load_settings
from gateway.errors import InputError
from gateway.store.connect import resolve_database_url
from gateway.store.migrate import apply_migrations
from ingest.telemetry.detect import DEFAULT_TZ, parse_telemetry
from ingest.telemetry.pose_import import StoreCounts, UnknownDeviceError, check_devices, store_poses
from ingest.telemetry.records import ParsedTelemetry, TelemetryFileError

EXAMPLES_PER_REASON = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("telemetry", help="Flight telemetry files (DJI .SRT, MAVLink .tlog) into poses.")
    sub = p.add_subparsers(dest="telemetry_command", metavar="ACTION", required=True)
    imp = sub.add_parser("import", help="Store a telemetry file's poses; report what was stored and refused.")
    imp.add_argument("file", type=Path)
    imp.add_argument("--device", required=True, help="Registered device the telemetry belongs to.")
    imp.add_argument("--start", help="Local start of the recording (ISO 8601) for an SRT whose cues have no date.")
    imp.add_argument("--tz", default=DEFAULT_TZ, help=f"Zone of DJI's local times (default {DEFAULT_TZ}).")
    imp.add_argument("--json", action="store_true", help="Print the report as one JSON object.")
    imp.set_defaults(func=_import)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"--tz {name!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None


def _start(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"--start {text!r} is not an ISO 8601 time (e.g. 2024-05-01T10:20:30)") from None


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr when it is a terminal; silent otherwise (logs, tests, pipes)."""
    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                  console=Console(stderr=True), transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def report(parsed: ParsedTelemetry, counts: StoreCounts) -> dict[str, Any]:
    """The import's outcome: counts, and per refusal reason its count and first examples."""
    def reasons(position_only: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for r in parsed.refusals:
            if r.position_only != position_only:
                continue
            entry = out.setdefault(r.reason, {"count": 0, "examples": []})
            entry["count"] += 1
            if len(entry["examples"]) < EXAMPLES_PER_REASON:
                entry["examples"].append(r.detail)
        return out

    refused = reasons(False)
    return {
        "format": parsed.format, "poses": len(parsed.poses), "stored": counts.stored,
        "duplicate": counts.duplicate, "without_fix": sum(1 for p in parsed.poses if not p.has_fix),
        "refused": sum(e["count"] for e in refused.values()), "refused_by_reason": refused,
        "positions_refused_by_reason": reasons(True),
    }


def _print(path: Path, out: dict[str, Any]) -> None:
    print(f"{path}: {out['format']}: stored {out['stored']} pose(s), {out['duplicate']} duplicate(s), "
          f"{out['refused']} record(s) refused; {out['without_fix']} pose(s) without a position")
    sections = (("refused", "refused_by_reason"), ("position refused, pose kept", "positions_refused_by_reason"))
    for title, key in sections:
        for reason, entry in sorted(out[key].items()):
            print(f"  {title}: {reason}: {entry['count']}")
            for example in entry["examples"]:
                print(f"    {example}")


def _import(args: argparse.Namespace) -> int:
    tz = _zone(args.tz)
    start = _start(args.start)
    settings = load_settings(config_path(args, "config"))
    data = args.file.read_bytes()
    with resolve_database_url(settings) as url:
        apply_migrations(url, allow_timescale=settings.database.timescaledb)
        with psycopg.connect(url) as conn:
            try:
                check_devices(conn, {args.device})  # before parsing: a long file is not read for nothing
            except UnknownDeviceError as exc:
                raise InputError(str(exc)) from None
            try:
                with _progress(f"parsing {args.file.name}") as step:
                    parsed = parse_telemetry(data, tz=tz, start=start, device_id=args.device, progress=step)
            except TelemetryFileError as exc:
                raise InputError(f"{args.file}: {exc.detail}") from None
            with _progress("storing poses") as step:
                counts = store_poses(conn, parsed.poses, progress=step)
    out = report(parsed, counts)
    if args.json:
        print(json.dumps({"file": str(args.file), **out}, ensure_ascii=False))
    else:
        _print(args.file, out)
    return 0 if counts.stored + counts.duplicate > 0 else 1
