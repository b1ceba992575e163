"""`enforcegw streams list`: every configured video stream with the state its gateway last reported (from the
store, so it shows a gateway running in another process), and streams reported by a gateway no longer running
marked as such."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

import psycopg
from rich.console import Console
from rich.table import Table

from gateway.config import load_settings
from gateway.store.connect import resolve_database_url
from gateway.store.migrate import apply_migrations
from gateway.video.status_store import read_statuses, stream_rows


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("streams", help="Video streams.")
    sub = p.add_subparsers(dest="streams_command", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="Configured streams with their state (connecting, live, stalled, failed) and "
                        "last error, as the gateway reading them reported it.")
    ls.add_argument("--json", action="store_true", help="one JSON object per stream instead of the table")
    ls.set_defaults(func=_list)


def _when(t: datetime | None) -> str:
    return "-" if t is None else t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _list(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    with resolve_database_url(settings) as url:
        apply_migrations(url, allow_timescale=settings.database.timescaledb)
        with psycopg.connect(url) as conn:
            rows = stream_rows(settings.video.streams, read_statuses(conn))
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
