"""`enforcegw` command line. Each command group lives in `gateway/commands/<group>.py` and exposes
`register(subparsers)`; this module only assembles them and maps errors to exit codes.

Exit codes: 0 done, 1 the command ran and found something wrong (rejected rows, audit findings, ...),
2 a domain error (see `gateway.errors`): printed as `error: ...` lines, one per problem, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import psycopg
from psycopg_pool import PoolTimeout
from pydantic import ValidationError

from gateway.config import ConfigError
from gateway.errors import GatewayError

if TYPE_CHECKING:
    from gateway.app import HttpMount

# Command modules, in help order. A module registers its subcommands and sets `func` on each parser.
COMMAND_MODULES = [
    "gateway.commands.run",
    "gateway.commands.config_cmd",
    "gateway.commands.migrate",
    "gateway.commands.devices",
    "gateway.commands.demo",
    "gateway.commands.evidence",
    "gateway.commands.zones",
    "gateway.commands.rules",
    "gateway.commands.permits",
    "gateway.commands.tokens",
    "gateway.commands.case_sink",
    "gateway.commands.streams",
    "gateway.commands.analyze",
    "gateway.commands.photos",
    "gateway.commands.telemetry",
    "gateway.commands.vision",
]


def build_parser() -> argparse.ArgumentParser:
    """The parser with every command group; a module that cannot be imported is an ImportError here, at
    start, rather than a command that silently is not there."""
    parser = argparse.ArgumentParser(prog="enforcegw", description="Non-site enforcement and IoT sensing gateway.")
    parser.add_argument("-c", "--config", help="YAML config file (ENFORCEGW_* environment variables override it).")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, *, http_mounts: Sequence[HttpMount] = ()) -> int:
    """Run one command; domain errors become `error:` lines and exit 2, anything else propagates.

    `http_mounts` reach the commands that start a gateway (run, demo): the console API passes its mount from
    its own entry point (api/main.py), since the gateway never imports it; without them no API is served."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.http_mounts = list(http_mounts)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        lines = domain_error_lines(exc)
        if lines is None:
            raise
        for line in lines:
            print(f"error: {line}", file=sys.stderr)
        return 2


def domain_error_lines(exc: BaseException) -> list[str] | None:
    """The one-line messages for a domain error, or None for anything else (a bug keeps its traceback)."""
    if isinstance(exc, ConfigError):
        return exc.lines()
    if isinstance(exc, GatewayError):
        return [_one_line(exc)]
    if isinstance(exc, ValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<value>'}: "
                             f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors())
        return [_one_line(f"invalid {exc.title}: {problems}")]
    if isinstance(exc, psycopg.OperationalError | PoolTimeout):
        # A store that is down or misnamed is the operator's most common mistake: say so, no traceback.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [f"cannot use the database: {first}"]
    if isinstance(exc, FileNotFoundError | IsADirectoryError | NotADirectoryError | PermissionError):
        # An input file named on the command line (the commands open them directly).
        where = f"{exc.filename}: " if exc.filename else ""
        return [f"{where}{exc.strerror or _one_line(exc)}"]
    return None


def _one_line(exc: BaseException | str) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
