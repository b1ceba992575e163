"""Access control from the route table, the brake on token guessing, the audit log and the JSON error shape,
against a real gateway serving the API over real HTTP."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import psycopg
import pytest
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from api.auth import FailureWindow
from api.context import ApiContext, audit_note, principal
from api.errors import parse_body
from api.routes import ROLES, RouteSpec, RouteTable
from api.server import TABLE_KEY, make_mount
from gateway.store.tokens import TOKEN_ROLES
from testkit.api_harness import EXPIRED, REVOKED, ApiGateway, api_gateway

pytestmark = pytest.mark.integration

CALLERS: tuple[str | None, ...] = (None, *ROLES, REVOKED, EXPIRED)  # None: no token at all
ACCESS_CODES = {"unauthenticated", "role_not_allowed"}  # what only the access check answers with


class EchoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: str = Field(min_length=1)


def register_echo(table: RouteTable, _ctx: ApiContext) -> None:
    """A state-changing route for the tests: operators only; it names its target for the audit row."""

    async def echo(request: web.Request) -> web.Response:
        body = await parse_body(request, EchoIn)
        audit_note(request, target=f"echo:{body.target}")
        who = principal(request)
        assert who is not None
        return web.json_response({"by": who.name, "role": who.role}, status=201)

    table.add("POST", "/api/test/echo", echo, roles={"operator"}, summary="echo (tests)", request=EchoIn)


def expected(spec: RouteSpec, caller: str | None) -> int | None:
    """The status the access check answers `caller` with on `spec`, or None when it lets the request through."""
    if spec.public:
        return None
    if caller in (None, REVOKED, EXPIRED):
        return 401
    return None if caller in spec.roles else 403


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "0", path)


async def status_of(api: ApiGateway, spec: RouteSpec, caller: str | None) -> tuple[int, str | None]:
    async with api.request(spec.method, concrete(spec.path), caller) as r:
        if r.status < 400:  # never read a success body: a stream route would not end
            return r.status, None
        body = await r.json()
        return r.status, body["error"]["code"]


async def test_authorization_matrix_over_every_route(tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    mount = make_mount(auth_failure_limit=100_000, extra=[register_echo])
    async with api_gateway(tmp_path, db_url, mqtt_url, mount=mount) as api:
        table = api.gw.http.app[TABLE_KEY]
        assert len(table.routes) >= 4
        wrong = []
        for spec in table.routes:
            for caller in CALLERS:
                status, code = await status_of(api, spec, caller)
                want = expected(spec, caller)
                refused = status if code in ACCESS_CODES else None
                if refused != want:
                    wrong.append(f"{spec.method} {spec.path} as {caller}: {status} {code}, expected "
                                 f"{want or 'allowed'}")
        assert wrong == []


async def test_repeated_failures_are_answered_429_with_retry_after(tmp_path: Path, db_url: str,
                                                                  mqtt_url: str) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url,
                           mount=make_mount(auth_failure_limit=3, auth_window_s=30)) as api:
        first_failure = time.monotonic()
        for guess in ("egw_a", "egw_b", "not-even-bearer"):
            async with api.request("GET", "/api/audit-log", guess) as r:
                assert r.status == 401
        async with api.request("GET", "/api/audit-log", "auditor") as r:  # a valid token is not looked up
            body = await r.json()
            assert r.status == 429 and body["error"]["code"] == "rate_limited"
            # the first failure leaves the 30 s window that long after it happened: no sooner, no later
            elapsed = time.monotonic() - first_failure
            assert math.ceil(30 - elapsed) <= int(r.headers["Retry-After"]) <= 30
        async with api.request("GET", "/api/openapi.json") as r:  # public routes stay open
            assert r.status == 200


def test_failure_window_slides_and_stays_bounded() -> None:
    now = [0.0]
    w = FailureWindow(limit=2, window_s=10, max_addresses=3, clock=lambda: now[0])
    w.fail("a")
    assert w.retry_after("a") is None
    now[0] = 4
    w.fail("a")
    assert w.retry_after("a") == 6  # the first failure leaves the window at t=10
    now[0] = 10.5
    assert w.retry_after("a") is None  # one failure left in the window
    for addr in ("b", "c", "d", "e"):
        w.fail(addr)
    assert len(w) == 3  # the least recently failing address ("a") was forgotten


async def test_state_changing_requests_are_audited_allowed_or_refused(tmp_path: Path, db_url: str,
                                                                     mqtt_url: str) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url, mount=make_mount(extra=[register_echo])) as api:
        for caller, status in ((None, 401), ("auditor", 403), (REVOKED, 401), ("operator", 201)):
            async with api.request("POST", "/api/test/echo", caller, json={"target": "A-1"}) as r:
                assert r.status == status, await r.text()
        with psycopg.connect(api.db_url) as conn:
            rows = conn.execute("SELECT token_id, token_name, role, action, target, result, status, address"
                                " FROM audit_log ORDER BY id").fetchall()
        action = "POST /api/test/echo"
        assert rows == [
            (None, None, None, action, "/api/test/echo", "refused_unauthenticated", 401, "127.0.0.1"),
            (api.token_ids["auditor"], "test-auditor", "auditor", action, "/api/test/echo", "refused_forbidden",
             403, "127.0.0.1"),
            (None, None, None, action, "/api/test/echo", "refused_unauthenticated", 401, "127.0.0.1"),
            (api.token_ids["operator"], "test-operator", "operator", action, "echo:A-1", "allowed", 201,
             "127.0.0.1"),
        ]
        async with api.request("GET", "/api/openapi.json") as r:  # reads are not audited
            assert r.status == 200
        # The log reads back through the API, page by page, for auditors and supervisors only.
        seen, cursor = [], None
        while True:
            params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
            async with api.request("GET", "/api/audit-log", "supervisor", params=params) as r:
                assert r.status == 200
                page = await r.json()
            seen += [i["result"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [row[5] for row in rows]
        async with api.request("GET", "/api/audit-log", "operator") as r:
            assert r.status == 403


@pytest.mark.parametrize(("method", "path", "kw", "status", "code", "field"), [
    ("GET", "/api/no-such-route", {}, 404, "not_found", None),
    ("DELETE", "/api/openapi.json", {}, 405, "method_not_allowed", None),
    ("POST", "/api/test/echo", {"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400,
     "malformed_json", None),
    ("POST", "/api/test/echo", {"json": {"target": ""}}, 422, "invalid", "target"),
    ("POST", "/api/test/echo", {"json": {"target": "x", "extra": 1}}, 422, "invalid", "extra"),
    ("GET", "/api/audit-log?limit=0", {}, 422, "invalid", "limit"),
    ("GET", "/api/audit-log?cursor=zz", {}, 422, "invalid", "cursor"),
])
async def test_errors_are_json_everywhere_under_api(tmp_path: Path, db_url: str, mqtt_url: str, method: str,
                                                    path: str, kw: dict, status: int, code: str,
                                                    field: str | None) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url, mount=make_mount(extra=[register_echo])) as api:
        caller = "operator" if path.startswith("/api/test") else "auditor"
        async with api.request(method, path, caller, **kw) as r:
            body = await r.json()
        assert r.status == status and r.content_type == "application/json"
        assert body["error"]["code"] == code and body["error"]["message"]
        assert body["error"].get("field") == field
        if status == 405:
            assert "GET" in r.headers["Allow"]


def test_token_roles_are_the_route_roles() -> None:
    assert tuple(TOKEN_ROLES) == tuple(ROLES)
