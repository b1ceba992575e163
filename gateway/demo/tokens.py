"""The demo's sign-in: a fresh token per person role, printed once at start so whoever runs `make demo` can open
the API (and the console) as an operator, a supervisor, an auditor or an admin.

Secrets are stored hashed and cannot be shown again, so each run revokes the previous run's demo tokens and
makes new ones rather than keeping secrets anywhere on disk.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from gateway.store.tokens import create_token, list_tokens, revoke_token

DEMO_ROLES = ("operator", "supervisor", "auditor", "admin")
PREFIX = "demo-"
LIFETIME = timedelta(days=1)


def issue_demo_tokens(database_url: str, roles: tuple[str, ...] = DEMO_ROLES) -> dict[str, str]:
    """role -> bearer secret of a new `demo-<role>` token; earlier active demo tokens are revoked."""
    now = datetime.now(UTC)
    out: dict[str, str] = {}
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        for token in list_tokens(conn):
            if token.name.startswith(PREFIX) and token.state(now) == "active":
                revoke_token(conn, token.id)
        for role in roles:
            _token, secret = create_token(conn, name=f"{PREFIX}{role}", role=role, expires_in=LIFETIME)
            out[role] = secret
    return out


def sign_in_text(base_url: str, tokens: dict[str, str], sink_url: str | None = None) -> str:
    lines = [f"Console: {base_url}/   (sign in with a token below)",
             f"Public device page: {base_url}/public",
             f"Console API: {base_url}/api/docs   (Authorization: Bearer <token>)"]
    lines += [f"  {role:<10} {secret}" for role, secret in tokens.items()]
    if sink_url is not None:
        lines.append(f"Case system (reference receiver): {sink_url}/   (what reviewed clues became)")
    return "\n".join(lines)
