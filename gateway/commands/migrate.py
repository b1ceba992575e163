"""`enforcegw migrate`: apply pending store migrations and report the time-series mode."""

from __future__ import annotations

import argparse

from gateway.config import load_settings
from gateway.logs import configure_logging
from gateway.store.connect import resolve_database_url
from gateway.store.migrate import apply_migrations


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("migrate", help="Apply pending database migrations.")
    p.set_defaults(func=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    configure_logging(settings.log.level, settings.log.json_format)
    with resolve_database_url(settings) as url:
        result = apply_migrations(url, allow_timescale=settings.database.timescaledb)
    applied = ", ".join(result.applied) or "nothing (up to date)"
    print(f"applied: {applied}\ntime series: {result.mode}")
    return 0
