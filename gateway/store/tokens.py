"""Console API tokens in the store: created and revoked by `enforcegw token`, looked up by the API's access check.

A token is `egw_` plus 32 random bytes (URL-safe base64); only its SHA-256 is stored. The secret has full
entropy, so a fast hash is safe here, and lookups by hash need no per-token salt.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import psycopg

TOKEN_ROLES = ("operator", "supervisor", "auditor", "admin", "device")  # the API's route roles; kept equal by test
TOKEN_PREFIX = "egw_"
SECRET_BYTES = 32
# last_used_at is written at most this often per token: a write on every request would make reads cost writes.
LAST_USED_RESOLUTION = timedelta(seconds=60)

_COLUMNS = "id, name, role, created_at, expires_at, revoked_at, last_used_at"


@dataclass(frozen=True)
class Token:
    id: int
    name: str
    role: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def as_dict(self) -> dict[str, object]:
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


def secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def create_token(conn: psycopg.Connection, *, name: str, role: str,
                 expires_in: timedelta | None = None) -> tuple[Token, str]:
    """A new token and its secret: the only time the secret exists outside its holder's hands."""
    if role not in TOKEN_ROLES:
        raise ValueError(f"role must be one of {', '.join(TOKEN_ROLES)}, not {role!r}")
    if not name.strip():
        raise ValueError("a token needs a name (who holds it, or the device id for role device)")
    secret = new_secret()
    row = conn.execute(
        f"INSERT INTO api_tokens (name, role, secret_sha256, expires_at) VALUES (%s, %s, %s, now() + %s::interval)"
        f" RETURNING {_COLUMNS}", (name, role, secret_hash(secret), expires_in)).fetchone()
    assert row is not None
    return Token(*row), secret


def list_tokens(conn: psycopg.Connection) -> list[Token]:
    return [Token(*r) for r in conn.execute(f"SELECT {_COLUMNS} FROM api_tokens ORDER BY id")]


def revoke_token(conn: psycopg.Connection, token_id: int) -> Token | None:
    """Revoke a token (a second revoke keeps the first time); None when there is no such token."""
    row = conn.execute(
        f"UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s RETURNING {_COLUMNS}",
        (token_id,)).fetchone()
    return Token(*row) if row else None


async def authenticate(conn: psycopg.AsyncConnection, secret: str) -> Token | None:
    """The active (neither revoked nor expired) token with this secret, its use recorded; None otherwise."""
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM api_tokens WHERE secret_sha256 = %s AND revoked_at IS NULL"
        " AND (expires_at IS NULL OR expires_at > now())", (secret_hash(secret),))
    row = await cur.fetchone()
    if row is None:
        return None
    token = Token(*row)
    await conn.execute(
        "UPDATE api_tokens SET last_used_at = now() WHERE id = %s"
        " AND (last_used_at IS NULL OR last_used_at < now() - %s)", (token.id, LAST_USED_RESOLUTION))
    return token
