"""`enforcegw token create --role ROLE --name NAME [--expires DAYS] [--json]` / `token list` / `token revoke ID`:
the console API's bearer tokens. The secret is printed once, at creation; the store keeps only its hash."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg

from gateway.commands.run import config_path
from gateway.config import load_settings
from gateway.errors import InputError
from gateway.store.connect import resolve_database_url
from gateway.store.migrate import apply_migrations
from gateway.store.tokens import TOKEN_ROLES, create_token, list_tokens, revoke_token


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("token", help="Console API tokens: create (prints the secret once), list, revoke.")
    sub = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    c = sub.add_parser("create", help="Create a token and print its secret (shown only this once).")
    c.add_argument("--role", required=True, choices=TOKEN_ROLES)
    c.add_argument("--name", required=True, help="Who holds it; for role device, the device id.")
    c.add_argument("--expires", type=float, metavar="DAYS", help="Days until it expires (default: never).")
    c.add_argument("--json", action="store_true", help='Print {"id","name","role","token"}.')
    c.set_defaults(func=_create)
    ls = sub.add_parser("list", help="Every token (never its secret) with its state.")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)
    rv = sub.add_parser("revoke", help="Revoke a token by id; it is refused from then on.")
    rv.add_argument("id", type=int)
    rv.set_defaults(func=_revoke)


@contextlib.contextmanager
def _connect(args: argparse.Namespace) -> Iterator[psycopg.Connection]:
    settings = load_settings(config_path(args, "config"))
    with resolve_database_url(settings) as url:
        with contextlib.redirect_stdout(sys.stderr):  # its log lines must not mix into the printed secret or JSON
            apply_migrations(url, allow_timescale=settings.database.timescaledb)
        with psycopg.connect(url) as conn:
            yield conn


def _create(args: argparse.Namespace) -> int:
    if args.expires is not None and not 0 < args.expires <= 36500:
        raise InputError("--expires: days must be above 0 and at most 36500")
    if not args.name.strip():
        raise InputError("--name must not be empty")
    expires = timedelta(days=args.expires) if args.expires is not None else None
    with _connect(args) as conn:
        token, secret = create_token(conn, name=args.name, role=args.role, expires_in=expires)
    if args.json:
        print(json.dumps({"id": token.id, "name": token.name, "role": token.role, "token": secret}))
    else:
        until = f", expires {token.expires_at:%Y-%m-%d %H:%M %Z}" if token.expires_at else ""
        print(f"token {token.id} ({token.role}, {token.name}{until}):\n{secret}\n"
              "Store it now: it is not shown again.")
    return 0


def _list(args: argparse.Namespace) -> int:
    with _connect(args) as conn:
        tokens = list_tokens(conn)
    now = datetime.now(UTC)
    if args.json:
        print(json.dumps([{**t.as_dict(), "state": t.state(now)} for t in tokens]))
        return 0
    for t in tokens:
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        print(f"{t.id:>4}  {t.role:<10}  {t.state(now):<7}  created {t.created_at:%Y-%m-%d %H:%M}"
              f"  last used {used}  {t.name}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    with _connect(args) as conn:
        token = revoke_token(conn, args.id)
    if token is None:
        raise InputError(f"no token with id {args.id}")
    print(f"revoked token {token.id} ({token.role}, {token.name})")
    return 0
