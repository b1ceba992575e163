"""`enforcegw demo`: the gateway on the embedded default (or configured servers) with a synthetic stream."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import time as dtime
from pathlib import Path

from gateway.commands.run import config_path
from gateway.config import load_settings
from gateway.logs import configure_logging

DEMO_DATA_DIR = Path("data/demo")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo", help="Run the gateway with sample devices and a synthetic day of sensor and drone data.",
        description="Starts the gateway (embedded PostgreSQL and MQTT unless configured), imports the sample "
        "devices and replays a simulated day in Nanhai, Foshan, from 17:30 local time: oil-fume exceedance "
        "18:25-19:05, dust 20:40-21:40, inadmissible barbecue fume 21:45-22:25, night construction noise "
        "23:10-23:40, drone patrols. Simulated time never runs ahead of the real clock.",
    )
    p.add_argument("-c", "--config", dest="demo_config", help="YAML config file.")
    p.add_argument("--speed", type=_positive, default=120.0, help="Simulated seconds per real second (default 120).")
    p.add_argument("--duration", type=_positive, default=None, metavar="SECONDS",
                   help="Stop after this many real seconds (default: until Ctrl-C).")
    p.add_argument("--seed", type=int, default=7, help="Seed of the synthetic signals (default 7).")
    p.add_argument("--start", type=_hhmm, default=dtime(17, 30), metavar="HH:MM",
                   help="Local (Asia/Shanghai) time the simulation starts at, >= 24 h ago (default 17:30).")
    p.add_argument("--no-ui", action="store_true", help="Plain summary lines every 5 s instead of the live table.")
    p.add_argument("--data-dir", type=Path, default=None,
                   help=f"Data directory (default: the configured one, else ./{DEMO_DATA_DIR}).")
    p.set_defaults(func=_demo)


def _positive(v: str) -> float:
    f = float(v)
    if not f > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return f


def _hhmm(v: str) -> dtime:
    try:
        return dtime.fromisoformat(v)
    except ValueError:
        raise argparse.ArgumentTypeError("expected HH:MM") from None


def _demo(args: argparse.Namespace) -> int:
    from gateway.demo.runner import DemoOptions, run_demo  # the demo's imports only when it runs

    settings = load_settings(config_path(args, "demo_config"))
    if args.data_dir is not None:
        settings = settings.model_copy(update={"data_dir": args.data_dir})
    elif "data_dir" not in settings.model_fields_set:  # keep the demo's database apart from `enforcegw run`'s
        settings = settings.model_copy(update={"data_dir": DEMO_DATA_DIR})
    ui = not args.no_ui and sys.stdout.isatty()
    # Log lines would tear through the live table; with the UI, only warnings unless a level was configured.
    level = settings.log.level if (not ui or "level" in settings.log.model_fields_set) else "WARNING"
    configure_logging(level, settings.log.json_format)
    for chatty in ("transitions", "amqtt", "pgserver"):  # per-packet state-machine chatter at INFO
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))
    options = DemoOptions(speed=args.speed, duration_s=args.duration, seed=args.seed, ui=ui, start_local=args.start,
                          http_mounts=tuple(getattr(args, "http_mounts", ())))
    result = asyncio.run(run_demo(settings, options))
    return 1 if result.publisher_error else 0
