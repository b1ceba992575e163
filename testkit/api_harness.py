"""A started gateway with the console API mounted, and a token for each role (plus a revoked and an expired
one), for the API's tests: real PostgreSQL, real MQTT, real HTTP."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
from pydantic import BaseModel

from api.routes import ROLES
from api.server import make_mount
from evidence.entry import Entry
from gateway.app import Gateway, HttpMount
from gateway.config import Settings
from gateway.store.tokens import create_token, revoke_token
from testkit.gateway_harness import gateway_settings, wait_for
from testkit.read_api import add_alert

REVOKED, EXPIRED = "revoked", "expired"  # keys in ApiGateway.tokens beside the roles
T0 = datetime(2026, 7, 1, 15, 0, tzinfo=UTC)  # when seeded alerts start


@dataclass
class ApiGateway:
    gw: Gateway
    base: str                      # http://127.0.0.1:PORT
    tokens: dict[str, str]         # role (or REVOKED / EXPIRED) -> bearer secret
    token_ids: dict[str, int]
    session: aiohttp.ClientSession
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def db_url(self) -> str:
        return self.gw.database_url

    def headers(self, who: str | None) -> dict[str, str]:
        """Authorization for a role, REVOKED, EXPIRED, a raw secret, or None (anonymous)."""
        if who is None:
            return {}
        return {"Authorization": f"Bearer {self.tokens.get(who, who)}"}

    def request(self, method: str, path: str, who: str | None = None, **kw: Any):
        headers = {**self.headers(who), **kw.pop("headers", {})}
        return self.session.request(method, self.base + path, headers=headers, **kw)

    def new_token(self, role: str, name: str | None = None) -> tuple[int, str]:
        with psycopg.connect(self.db_url) as conn:
            token, secret = create_token(conn, name=name or f"test-{role}", role=role)
        return token.id, secret


def seed_alert(api: ApiGateway, code: str, device_id: str = "d1", start: datetime = T0, **cols: Any) -> int:
    """An alert whose opening evidence entry is really in the log, ready for review; returns that entry's index.
    `cols` are alert columns (enforcement_item, admissible, ...)."""
    assert api.gw.evidence is not None
    with psycopg.connect(api.db_url) as conn:
        conn.execute("INSERT INTO devices (id, kind, name) VALUES (%s, 'sensor', %s) ON CONFLICT DO NOTHING",
                     (device_id, device_id))
        with conn.transaction():
            (opened,) = api.gw.evidence.append_with(conn, [Entry(entry_type="evidence", device_id=device_id,
                                                                 capture_time=start, payload={"clue_code": code})])
            add_alert(conn, code, device_id, start, evidence_open_idx=opened.index, **cols)
    return opened.index


async def post(api: ApiGateway, code: str, action: str, who: str, body: Any = None) -> tuple[int, dict]:
    """POST /api/alerts/{code}/{action} as `who` (a role or a secret): the status and the JSON answer."""
    kw = {} if body is None else {"json": body}
    async with api.request("POST", f"/api/alerts/{code}/{action}", who, **kw) as r:
        return r.status, await r.json()


def make_tokens(db_url: str) -> tuple[dict[str, str], dict[str, int]]:
    secrets: dict[str, str] = {}
    ids: dict[str, int] = {}
    with psycopg.connect(db_url) as conn:
        for role in ROLES:
            t, secrets[role] = create_token(conn, name=f"test-{role}", role=role)
            ids[role] = t.id
        t, secrets[REVOKED] = create_token(conn, name="test-revoked", role="admin")
        revoke_token(conn, t.id)
        ids[REVOKED] = t.id
        t, secrets[EXPIRED] = create_token(conn, name="test-expired", role="admin", expires_in=timedelta(days=1))
        conn.execute("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = %s", (t.id,))
        ids[EXPIRED] = t.id
    return secrets, ids


def _updated(model: BaseModel, changes: dict[str, Any]) -> dict[str, Any]:
    """The model's data with `changes`: a section (a nested model) takes a dict key by key, any other value (a
    mapping setting too) is replaced whole, as a config file would."""
    data = model.model_dump()
    for key, value in changes.items():
        current = getattr(model, key, None)
        data[key] = _updated(current, value) if isinstance(value, dict) and isinstance(current, BaseModel) else value
    return data


@contextlib.asynccontextmanager
async def api_gateway(tmp: Path, db_url: str, mqtt_url: str, *, mount: HttpMount | None = None,
                      **settings: Any) -> AsyncIterator[ApiGateway]:
    """`async with api_gateway(tmp_path, db_url, mqtt_url) as api:` a running gateway serving the API.
    `settings` change the test gateway's settings section by section, validated like a config file:
    `api={"review": {"lease_s": 0.3}}` keeps the rest of `api`."""
    s = gateway_settings(tmp, db_url, mqtt_url)
    if settings:
        s = Settings(**_updated(s, settings))
    gw = Gateway(s, http_mounts=[mount or make_mount()])
    await gw.start()
    try:
        await wait_for(gw.source.connected.is_set, 10, "MQTT connection")
        assert gw.http is not None
        secrets, ids = make_tokens(gw.database_url)
        async with aiohttp.ClientSession() as session:
            yield ApiGateway(gw, f"http://127.0.0.1:{gw.http.port}", secrets, ids, session)
    finally:
        await gw.stop()
