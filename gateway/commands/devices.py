"""`enforcegw devices import FILE` and `enforcegw devices list`."""

from __future__ import annotations

import argparse
import sys
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
    ls = sub.add_parser("list", help="List registered devices with their legal status.")
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


def _list(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    with resolve_database_url(settings) as url, psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT id, kind, name, jurisdiction, legal_review_ref, technical_review_ref, calibration_valid_until"
            " FROM devices ORDER BY id"
        ).fetchall()
    table = Table("id", "kind", "name", "jurisdiction", "legal", "technical", "calibrated until")
    for r in rows:
        table.add_row(*[("-" if v is None else str(v)) for v in r])
    Console().print(table)
    return 0
