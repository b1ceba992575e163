"""`enforcegw config check FILE` and `enforcegw config show`."""

from __future__ import annotations

import argparse
import json
import sys

from gateway.config import ConfigError, load_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("config", help="Validate or show configuration.")
    sub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="Validate FILE; print each error with its field path.")
    check.add_argument("file")
    check.set_defaults(func=_check)
    show = sub.add_parser("show", help="Print the effective configuration (file + environment) as JSON.")
    show.add_argument("file", nargs="?")
    show.set_defaults(func=_show)


def _check(args: argparse.Namespace) -> int:
    try:
        load_settings(args.file)
    except ConfigError as exc:
        for path, msg in exc.errors:
            print(f"{args.file}: {path}: {msg}", file=sys.stderr)
        print(f"{len(exc.errors)} error(s)", file=sys.stderr)
        return 1
    print(f"{args.file}: OK")
    return 0


def _show(args: argparse.Namespace) -> int:
    settings = load_settings(args.file or args.config)
    print(json.dumps(settings.model_dump(mode="json"), indent=2))
    return 0
