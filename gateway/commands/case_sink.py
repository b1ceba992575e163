"""`enforcegw case-sink --port P --secret S [--data FILE] [--fail-rate X] [--seed N] [--status CODE]
[--retry-after S] [--stall-s N] [--down-until ISO] [--host H]`: the reference case-system receiver
(gateway/cases/sink.py) until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from datetime import datetime
from pathlib import Path

from gateway.cases.signing import WebhookSecret
from gateway.cases.sink import CaseSink
from gateway.errors import InputError
from gateway.logs import configure_logging


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "case-sink", help="A reference case-system receiver: verifies Standard Webhooks signatures, keeps each "
                          "webhook-id once, answers with a case number; can be told to fail, stall or stay down.")
    p.add_argument("--port", required=True, type=int, help="TCP port to listen on (0: any free one).")
    p.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
    p.add_argument("--secret", required=True, action="append", metavar="whsec_...",
                   help="The shared secret, whsec_ + base64 of 24-64 bytes; give it twice while a secret rotates.")
    p.add_argument("--data", type=Path, metavar="FILE",
                   help="JSON lines of what was received; read at start, so a restarted sink still deduplicates.")
    p.add_argument("--fail-rate", type=float, default=0.0, metavar="X",
                   help="Answer this fraction (0-1) of verified deliveries with 500.")
    p.add_argument("--seed", type=int, default=0, help="Seed of the --fail-rate draws (default 0), so runs repeat.")
    p.add_argument("--status", type=int, metavar="CODE",
                   help="Answer every delivery with this status (300-599), e.g. 410, 429, 503.")
    p.add_argument("--retry-after", type=int, metavar="S",
                   help="Retry-After seconds sent with --status (429 and 503 always carry one: default 1).")
    p.add_argument("--stall-s", type=float, default=0.0, metavar="N", help="Wait N seconds before answering.")
    p.add_argument("--down-until", metavar="ISO",
                   help="Refuse connections until this time (ISO 8601 with offset, e.g. 2026-03-01T08:00:00+08:00).")
    p.add_argument("--tolerance-s", type=float, default=300.0, help="Timestamp tolerance (default 300 s).")
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--log-json", action="store_true", help="Log JSON lines instead of console lines.")
    p.set_defaults(func=_run)


def sink_from_args(args: argparse.Namespace) -> CaseSink:
    """The sink the arguments describe; an InputError naming the option for any that cannot be used."""
    if not 0 <= args.port <= 65535:
        raise InputError(f"--port: {args.port} is not a TCP port (0-65535)")
    secrets = []
    for n, text in enumerate(args.secret, 1):
        try:
            secrets.append(WebhookSecret.parse(text))
        except ValueError as exc:
            which = f" (number {n})" if len(args.secret) > 1 else ""
            raise InputError(f"--secret{which}: {exc}") from None
    if not 0.0 <= args.fail_rate <= 1.0:
        raise InputError(f"--fail-rate: {args.fail_rate} is not a fraction from 0 to 1")
    if args.status is not None and not 300 <= args.status <= 599:
        raise InputError(f"--status: {args.status} is not a failure status (300-599); without it the sink "
                         "answers 200")
    if args.retry_after is not None and args.retry_after < 0:
        raise InputError(f"--retry-after: {args.retry_after} is not a number of seconds")
    if not args.stall_s >= 0:
        raise InputError(f"--stall-s: {args.stall_s} is not a number of seconds")
    if not args.tolerance_s > 0:
        raise InputError(f"--tolerance-s: {args.tolerance_s} is not a number of seconds")
    down_until = None
    if args.down_until is not None:
        try:
            down_until = datetime.fromisoformat(args.down_until)
        except ValueError:
            raise InputError(f"--down-until: {args.down_until!r} is not an ISO 8601 time") from None
        if down_until.tzinfo is None:
            raise InputError(f"--down-until: {args.down_until!r} has no UTC offset (add Z or e.g. +08:00)")
    return CaseSink(secrets, host=args.host, port=args.port, data_path=args.data, fail_rate=args.fail_rate,
                    seed=args.seed, status=args.status, retry_after_s=args.retry_after, stall_s=args.stall_s,
                    down_until=down_until, tolerance_s=args.tolerance_s)


def _run(args: argparse.Namespace) -> int:
    sink = sink_from_args(args)
    configure_logging(args.log_level, args.log_json)
    return asyncio.run(_serve(sink))


async def _serve(sink: CaseSink) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await sink.start()
        if sink.listening:
            await stop.wait()
        else:
            opened = asyncio.ensure_future(sink.wait_listening())
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({opened, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if opened.done():
                opened.result()
                await stopped
            else:
                opened.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await opened
    finally:
        await sink.stop()
    return 0
