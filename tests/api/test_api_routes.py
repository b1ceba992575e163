"""The route table refuses routes that do not say who may call them."""

from __future__ import annotations

import pytest
from aiohttp import web

from api.routes import PUBLIC, RouteTable


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
