"""`enforcegw streams list`: every configured video stream with the state its gateway last reported (from the
store, so it shows a gateway running in another process), and streams reported by a gateway no longer running
marked as such."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table

from gateway.config import Settings, load_settings
from gateway.store.connect import resolve_database_url
from gateway.store.migrate import apply_migrations
from gateway.video.status_store import read_statuses
from ingest.video.urls import mask_url


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("streams", help="Video streams.")
    sub = p.add_subparsers(dest="streams_command", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="Configured streams with their state (connecting, live, stalled, failed) and "
                        "last error, as the gateway reading them reported it.")
    ls.add_argument("--json", action="store_true", help="one JSON object per stream instead of the table")
    ls.set_defaults(func=_list)


def stream_rows(settings: Settings, stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Configured streams joined with their stored status; a stored row for a stream no longer configured is
    kept (it says what a gateway with another config reads)."""
    by_id = {r["stream_id"]: r for r in stored}
    out: list[dict[str, Any]] = []
    for s in settings.video.streams:
        r = by_id.pop(s.id, None)
        row: dict[str, Any] = {"id": s.id, "device_id": s.device_id, "camera": s.camera, "fps_target": s.fps,
                               "url": mask_url(s.url), "configured": True, "enabled": s.enabled}
        if not s.enabled:
            row["state"] = "disabled"
        elif r is None:
            row["state"] = "not_reported"
        else:
            row.update(_stored(r))
        out.append(row)
    for r in by_id.values():
        out.append({"id": r["stream_id"], "device_id": r["device_id"], "configured": False, "enabled": None,
                    "url": r["url"], **_stored(r)})
    return out


def _stored(r: dict[str, Any]) -> dict[str, Any]:
    state = r["state"] if r["reporting"] or r["state"] == "stopped" else f"{r['state']} (gateway not reporting)"
    return {"state": state, "since": r["since"], "last_error": r["last_error"], "frames_read": r["frames_read"],
            "frames_kept": r["frames_kept"], "reconnects": r["reconnects"], "fps": r["fps"],
            "last_frame_at": r["last_frame_at"], "time_source": r["time_source"], "reporter": r["reporter"],
            "updated_at": r["updated_at"], "detail": r["detail"]}


def _when(t: datetime | None) -> str:
    return "-" if t is None else t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _list(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    with resolve_database_url(settings) as url:
        apply_migrations(url, allow_timescale=settings.database.timescaledb)
        with psycopg.connect(url) as conn:
            rows = stream_rows(settings, read_statuses(conn))
    if args.json:
        for row in rows:
            print(json.dumps(row, default=str, ensure_ascii=False))
        return 0
    table = Table("id", "device", "state", "since", "fps", "frames kept", "reconnects", "last error", "url")
    for r in rows:
        fps = "-" if r.get("fps") is None else f"{r['fps']:.1f}"
        table.add_row(r["id"], r["device_id"], r["state"], _when(r.get("since")), fps,
                      str(r.get("frames_kept", "-")), str(r.get("reconnects", "-")), r.get("last_error") or "-",
                      r["url"])
    Console().print(table)
    return 0
