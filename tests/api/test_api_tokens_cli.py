"""`enforcegw token create/list/revoke`: the secret is printed once and stored only as a hash; a revoked or
expired token no longer authenticates."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from api.main import main
from gateway.store.tokens import authenticate

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("ENFORCEGW_DATABASE__URL", db_url)
    monkeypatch.setenv("ENFORCEGW_DATA_DIR", str(tmp_path / "data"))

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["token", *argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


async def active(db_url: str, secret: str) -> str | None:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        token = await authenticate(conn, secret)
    return token.role if token else None


async def test_create_prints_the_secret_once_and_stores_its_hash(cli, db_url: str) -> None:
    code, out, _ = cli("create", "--role", "operator", "--name", "Li Wei", "--json")
    assert code == 0
    created = json.loads(out)
    assert set(created) == {"id", "name", "role", "token"}
    assert (created["name"], created["role"]) == ("Li Wei", "operator")
    assert created["token"].startswith("egw_") and len(created["token"]) >= 40
    assert await active(db_url, created["token"]) == "operator"

    code, text, _ = cli("create", "--role", "auditor", "--name", "Audit Office", "--expires", "30")
    secret = text.splitlines()[1]
    assert code == 0 and secret.startswith("egw_") and "not shown again" in text

    code, listing, _ = cli("list")
    assert code == 0 and "Li Wei" in listing and "Audit Office" in listing and "active" in listing
    assert created["token"] not in listing and secret not in listing
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT string_agg(t::text, ' ') FROM api_tokens t").fetchone()[0]
        expires = conn.execute("SELECT expires_at - created_at FROM api_tokens WHERE name = 'Audit Office'"
                               ).fetchone()[0]
    assert created["token"] not in stored and secret not in stored
    assert expires.days == 30

    code, listed, _ = cli("list", "--json")
    assert [t["name"] for t in json.loads(listed)] == ["Li Wei", "Audit Office"]
    assert all("token" not in t and "secret_sha256" not in t for t in json.loads(listed))


async def test_revoke_stops_the_token(cli, db_url: str) -> None:
    _, out, _ = cli("create", "--role", "admin", "--name", "ops", "--json")
    created = json.loads(out)
    code, text, _ = cli("revoke", str(created["id"]))
    assert code == 0 and f"revoked token {created['id']}" in text
    assert await active(db_url, created["token"]) is None
    _, listed, _ = cli("list", "--json")
    assert json.loads(listed)[0]["state"] == "revoked"


@pytest.mark.parametrize(("argv", "problem"), [
    (("revoke", "999"), "no token with id 999"),
    (("create", "--role", "operator", "--name", "x", "--expires", "0"), "--expires"),
    (("create", "--role", "operator", "--name", "  "), "--name"),
])
def test_refusals_name_the_problem(cli, argv: tuple[str, ...], problem: str) -> None:
    code, _, err = cli(*argv)
    assert code == 2 and problem in err


def test_an_unknown_role_is_refused_by_the_parser(cli) -> None:
    with pytest.raises(SystemExit) as exc:
        cli("create", "--role", "root", "--name", "x")
    assert exc.value.code == 2


async def test_an_expired_token_does_not_authenticate(cli, db_url: str) -> None:
    _, out, _ = cli("create", "--role", "device", "--name", "noise-1", "--expires", "1", "--json")
    created = json.loads(out)
    assert await active(db_url, created["token"]) == "device"
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE api_tokens SET expires_at = now() - interval '1 second'")
    assert await active(db_url, created["token"]) is None
    _, listed, _ = cli("list", "--json")
    assert json.loads(listed)[0]["state"] == "expired"
