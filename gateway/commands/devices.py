"""`enforcegw devices import FILE` and `enforcegw devices list`."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table

from evidence.log import EvidenceLog
from gateway.catalogue import load_catalogue
from gateway.config import load_settings
from gateway.devices import import_devices, read_device_file
from gateway.store.connect import resolve_database_url
from gateway.store.migrate import apply_migrations


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("devices", help="Device registry.")
    sub = p.add_subparsers(dest="devices_command", metavar="ACTION", required=True)
    imp = sub.add_parser("import", help="Upsert devices from a YAML or JSON list; bad rows are reported.")
    imp.add_argument("file", type=Path)
    imp.set_defaults(func=_import)
    ls = sub.add_parser("list", help="List registered devices with their legal status, online state and last seen.")
    ls.set_defaults(func=_list)


def _import(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    try:
        rows = read_device_file(args.file)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    load_catalogue(settings)  # zones stored with catalogue kinds must load
    with resolve_database_url(settings) as url:
        apply_migrations(url, allow_timescale=settings.database.timescaledb)
        with EvidenceLog.open(url, settings.evidence, settings.data_dir) as evidence, psycopg.connect(url) as conn:
            result = import_devices(conn, rows, evidence=evidence)
    for err in result.errors:
        print(f"{args.file}: {err}", file=sys.stderr)
    for device_id in result.unassigned:
        # Flagged, not refused: an operator must assign it before its clues can be routed to a bureau.
        print(f"warning: {device_id}: location outside every jurisdiction zone (unassigned)", file=sys.stderr)
    print(f"loaded {len(result.loaded)} device(s) ({len(result.changed)} new or changed, recorded as evidence), "
          f"{len({e.index for e in result.errors})} row(s) rejected")
    return 1 if result.errors else 0


def _when(t: datetime | None) -> str:
    return "-" if t is None else t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _online(online: bool | None, since: datetime | None) -> str:
    if online is None:
        return "-"
    return f"{'online' if online else 'offline'} since {_when(since)}"


def _list(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    with resolve_database_url(settings) as url:
        apply_migrations(url, allow_timescale=settings.database.timescaledb)  # device_state may be newer
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT d.id, d.kind, d.name, d.jurisdiction, d.legal_review_ref, d.technical_review_ref,"
                " d.calibration_valid_until, s.online, s.online_changed_at, s.last_seen_at"
                " FROM devices d LEFT JOIN device_state s ON s.device_id = d.id ORDER BY d.id"
            ).fetchall()
    table = Table("id", "kind", "name", "jurisdiction", "legal", "technical", "calibrated until", "state",
                  "last seen")
    for *registry, online, since, seen in rows:
        table.add_row(*[("-" if v is None else str(v)) for v in registry], _online(online, since), _when(seen))
    Console().print(table)
    return 0
