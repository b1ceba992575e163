"""The console API's route table: every route says who may call it, so access is checked in one place and a
route without a rule cannot exist (the authorization matrix test walks this table).

A route's `roles` is the set of token roles allowed; `PUBLIC` (no token needed) is explicit, never a default.
`request`/`response` are the pydantic models the OpenAPI document is generated from.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web
from pydantic import BaseModel

Role = Literal["operator", "supervisor", "auditor", "admin", "device"]
ROLES: tuple[Role, ...] = ("operator", "supervisor", "auditor", "admin", "device")
PUBLIC: frozenset[str] = frozenset({"public"})  # anyone, without a token
QUEUE_READERS: frozenset[str] = frozenset({"operator", "supervisor", "auditor"})  # who may see the alert queue
SEALED_READERS: frozenset[str] = frozenset({"auditor", "supervisor"})  # unredacted video originals (sealed_media)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    handler: Handler
    roles: frozenset[str]
    summary: str
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    changes_state: bool = False  # written to the audit log, allowed or refused
    errors: tuple[int, ...] = ()  # statuses it answers beyond those every route of its kind may (documented)

    @property
    def public(self) -> bool:
        return self.roles == PUBLIC


@dataclass
class RouteTable:
    routes: list[RouteSpec] = field(default_factory=list)

    def add(self, method: str, path: str, handler: Handler, *, roles: frozenset[str] | set[str], summary: str,
            request: type[BaseModel] | None = None, response: type[BaseModel] | None = None,
            changes_state: bool | None = None, errors: tuple[int, ...] = ()) -> RouteSpec:
        roles = frozenset(roles)
        if not roles:
            raise ValueError(f"{method} {path}: a route must name the roles allowed (or PUBLIC)")
        unknown = roles - set(ROLES) - PUBLIC
        if unknown or (roles >= PUBLIC and len(roles) > 1):
            raise ValueError(f"{method} {path}: bad roles {sorted(roles)}")
        if any(r.method == method and r.path == path for r in self.routes):
            raise ValueError(f"{method} {path} is already routed")
        spec = RouteSpec(method.upper(), path, handler, roles, summary, request, response,
                         method.upper() not in ("GET", "HEAD") if changes_state is None else changes_state,
                         tuple(errors))
        self.routes.append(spec)
        return spec

    def find(self, method: str, resource_path: str) -> RouteSpec | None:
        """The spec for an aiohttp resource's canonical path (e.g. `/api/alerts/{clue_code}`)."""
        for r in self.routes:
            if r.method == method and r.path == resource_path:
                return r
        return None
