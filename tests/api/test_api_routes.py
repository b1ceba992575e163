"""The route table refuses routes that do not say who may call them; the brake on token guessing in front of it
is set from the config."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from api.routes import PUBLIC, RouteTable
from testkit.api_harness import api_gateway


async def _ok(_req: web.Request) -> web.Response:
    return web.Response()


@pytest.mark.parametrize(("roles", "problem"), [
    (set(), "must name the roles"),
    ({"root"}, "bad roles"),
    (PUBLIC | {"operator"}, "bad roles"),
])
def test_route_without_a_clear_rule_is_refused(roles: set[str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        RouteTable().add("GET", "/api/x", _ok, roles=roles, summary="x")


def test_duplicate_route_refused_and_state_changes_marked() -> None:
    t = RouteTable()
    get = t.add("GET", "/api/x", _ok, roles={"operator"}, summary="read")
    post = t.add("POST", "/api/x", _ok, roles={"operator"}, summary="write")
    assert (get.changes_state, post.changes_state) == (False, True)
    assert t.find("POST", "/api/x") is post and t.find("DELETE", "/api/x") is None
    with pytest.raises(ValueError, match="already routed"):
        t.add("GET", "/api/x", _ok, roles=PUBLIC, summary="again")
    assert t.add("GET", "/api/y", _ok, roles=PUBLIC, summary="open").public


@pytest.mark.integration
async def test_the_brake_on_token_guessing_is_configured(tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url, api={"auth": {"failure_limit": 2, "window_s": 600}}) as api:
        statuses = []
        for guess in ("egw_a", "egw_b", "egw_c"):
            async with api.request("GET", "/api/alerts", guess) as r:
                statuses.append(r.status)
        async with api.request("GET", "/api/alerts", "operator") as r:
            statuses.append(r.status)
            assert 590 <= int(r.headers["Retry-After"]) <= 600
    assert statuses == [401, 401, 429, 429]
