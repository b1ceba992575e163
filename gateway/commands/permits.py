"""`enforcegw permits import FILE` / `enforcegw permits list [--at DATE]`: the register of night-work permits.

A permit (Noise Law 2022 art. 43) lets a site zone build at night; while one is valid the night-construction rule
does not flag that zone. FILE is JSON: a list of {zone_id, valid_from, valid_until, issuing_body, reference}
(ISO 8601 times; a date alone is local midnight in Asia/Shanghai, `valid_until` exclusive). Re-importing a
permit (same issuing body and reference) replaces it. The rule engine reads the register when it loads the
devices (at start and on every device reload).
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from detectors.sensors.periods import DEFAULT_TZ
from detectors.sensors.permits import NightWorkPermit
from gateway.alerts.devices import load_permits
from gateway.commands.run import config_path
from gateway.config import load_settings
from gateway.errors import InputError
from gateway.store.connect import resolve_database_url
from gateway.store.migrate import apply_migrations

FIELDS = ("zone_id", "valid_from", "valid_until", "issuing_body", "reference")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("permits", help="Night-work permits that lift the night-construction rule.")
    sub = p.add_subparsers(dest="permits_command", metavar="ACTION", required=True)
    imp = sub.add_parser("import", help="Import permits from a JSON list (upsert by issuing body and reference).")
    imp.add_argument("file", type=Path)
    imp.set_defaults(func=_import)
    ls = sub.add_parser("list", help="Registered permits (with --at: those valid at that local time or date).")
    ls.add_argument("--at", help="ISO time, or a date (its local midnight, Asia/Shanghai).")
    ls.set_defaults(func=_list)


def _instant(v: object, field: str, where: str) -> datetime:
    if not isinstance(v, str):
        raise InputError(f"{where}: {field} must be an ISO date or time")
    try:
        if len(v) == 10:
            return datetime.combine(date.fromisoformat(v), time.min, ZoneInfo(DEFAULT_TZ))
        t = datetime.fromisoformat(v)
    except ValueError:
        raise InputError(f"{where}: {field} {v!r} is not an ISO date or time") from None
    return t if t.tzinfo is not None else t.replace(tzinfo=ZoneInfo(DEFAULT_TZ))


def parse_permits(doc: object, name: str = "permits") -> list[NightWorkPermit]:
    """Validate a permit list; InputError names the entry and the field."""
    if not isinstance(doc, list):
        raise InputError(f"{name}: expected a JSON list of permits")
    out = []
    for i, item in enumerate(doc):
        where = f"{name}[{i}]"
        if not isinstance(item, dict) or set(item) != set(FIELDS):
            raise InputError(f"{where}: a permit has exactly the fields {', '.join(FIELDS)}")
        for f in ("zone_id", "issuing_body", "reference"):
            if not isinstance(item[f], str) or not item[f].strip():
                raise InputError(f"{where}: {f} must be a non-empty string")
        try:
            out.append(NightWorkPermit(item["zone_id"], _instant(item["valid_from"], "valid_from", where),
                                       _instant(item["valid_until"], "valid_until", where), item["issuing_body"],
                                       item["reference"]))
        except ValueError as exc:
            raise InputError(f"{where}: {exc}") from None
    return out


@contextlib.contextmanager
def _connect(args: argparse.Namespace) -> Iterator[psycopg.Connection]:
    settings = load_settings(config_path(args, "config"))
    with resolve_database_url(settings) as url:
        apply_migrations(url, allow_timescale=settings.database.timescaledb)
        with psycopg.connect(url) as conn:
            yield conn


def _import(args: argparse.Namespace) -> int:
    try:
        doc = json.loads(args.file.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{args.file}: {getattr(exc, 'strerror', None) or exc}") from None
    permits = parse_permits(doc, str(args.file))
    with _connect(args) as conn:
        for p in permits:
            conn.execute(
                "INSERT INTO night_work_permits (issuing_body, reference, zone_id, valid_from, valid_until)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (issuing_body, reference) DO UPDATE SET"
                " zone_id = EXCLUDED.zone_id, valid_from = EXCLUDED.valid_from,"
                " valid_until = EXCLUDED.valid_until, imported_at = now()",
                (p.issuing_body, p.reference, p.zone_id, p.valid_from, p.valid_until))
    print(f"imported {len(permits)} permit(s)")
    return 0


def _list(args: argparse.Namespace) -> int:
    at = _instant(args.at, "--at", "permits list") if args.at else None
    with _connect(args) as conn:
        permits = [p for ps in load_permits(conn).values() for p in ps]
    tz = ZoneInfo(DEFAULT_TZ)
    for p in sorted(permits, key=lambda p: (p.zone_id, p.valid_from)):
        if at is not None and not p.valid_from <= at < p.valid_until:
            continue
        start, end = p.valid_from.astimezone(tz), p.valid_until.astimezone(tz)
        print(f"{p.zone_id}  {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M}  {p.issuing_body}  {p.reference}")
    return 0
