"""`enforcegw` command line. Each command group lives in `gateway/commands/<group>.py` and exposes
`register(subparsers)`; this module only assembles them and maps errors to exit codes."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

import psycopg
from psycopg_pool import PoolTimeout

from gateway.config import ConfigError

# Command modules, in help order. A module registers its subcommands and sets `func` on each parser.
COMMAND_MODULES = [
    "gateway.commands.run",
    "gateway.commands.config_cmd",
    "gateway.commands.migrate",
    "gateway.commands.devices",
    "gateway.commands.demo",
    "gateway.commands.evidence",
    "gateway.commands.zones",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="enforcegw", description="Non-site enforcement and IoT sensing gateway.")
    parser.add_argument("-c", "--config", help="YAML config file (ENFORCEGW_* environment variables override it).")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a command group not written yet
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except (psycopg.OperationalError, PoolTimeout) as exc:
        # A store that is down or misnamed is the operator's most common mistake: say so, no traceback.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"error: cannot use the database: {first}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
