"""`enforcegw run`: the gateway until SIGINT/SIGTERM, or until a worker is beyond restarting (exit code 70)."""

from __future__ import annotations

import argparse
import asyncio

from gateway.app import Gateway
from gateway.config import load_settings
from gateway.logs import configure_logging


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run", help="Run the gateway until SIGINT/SIGTERM (exit 0), or until a worker keeps dying (exit 70)."
    )
    p.add_argument("-c", "--config", dest="run_config", help="YAML config file.")
    p.set_defaults(func=_run)


def config_path(args: argparse.Namespace, own: str) -> str | None:
    """A command's own -c wins over the global one, so both `enforcegw -c F run` and `run -c F` work."""
    return getattr(args, own, None) or args.config


def _run(args: argparse.Namespace) -> int:
    """0 after SIGINT/SIGTERM; 70 (EX_SOFTWARE) when a worker died more often than it may be restarted, so that
    systemd `Restart=on-failure` or docker `restart: on-failure` start a fresh gateway."""
    settings = load_settings(config_path(args, "run_config"))
    configure_logging(settings.log.level, settings.log.json_format)
    return asyncio.run(Gateway(settings, http_mounts=getattr(args, "http_mounts", None)).run_until_signal())
