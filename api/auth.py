"""Who may call a route: the bearer token's role against the route's roles (api/routes.py), and a brake on
guessing. An address that presents bad tokens `limit` times within `window_s` gets 429 with Retry-After on
every protected route until its oldest failure leaves the window; a valid token is not even looked up then,
so the brake cannot be used as an oracle."""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from aiohttp import web
from psycopg_pool import AsyncConnectionPool

from api.context import Principal
from api.errors import ApiError
from api.routes import RouteSpec
from gateway.store.tokens import authenticate


class FailureWindow:
    """Sliding-window count of authentication failures per address, in bounded memory: at most `limit`
    timestamps per address and `max_addresses` addresses (the least recently failing is forgotten first)."""

    def __init__(self, limit: int = 10, window_s: float = 60.0, max_addresses: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window_s, self.max_addresses, self.clock = limit, window_s, max_addresses, clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, address: str, now: float) -> deque[float] | None:
        q = self._failures.get(address)
        if q is None:
            return None
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if not q:
            del self._failures[address]
            return None
        return q

    def retry_after(self, address: str) -> int | None:
        """Seconds until `address` may try again, or None when it is not held back."""
        now = self.clock()
        q = self._recent(address, now)
        if q is None or len(q) < self.limit:
            return None
        return max(1, math.ceil(q[0] + self.window_s - now))

    def fail(self, address: str) -> None:
        now = self.clock()
        q = self._recent(address, now)
        if q is None:
            q = self._failures[address] = deque(maxlen=self.limit)
        q.append(now)
        self._failures.move_to_end(address)
        while len(self._failures) > self.max_addresses:
            self._failures.popitem(last=False)

    def __len__(self) -> int:
        return len(self._failures)


def bearer(request: web.Request) -> str | None:
    """The token of `Authorization: Bearer <token>`; "" for a header that is there but not a bearer token."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class AccessCheck:
    def __init__(self, pool: AsyncConnectionPool, failures: FailureWindow | None = None) -> None:
        self.pool = pool
        self.failures = failures if failures is not None else FailureWindow()

    async def check(self, request: web.Request, spec: RouteSpec) -> Principal | None:
        """The caller of `spec` (None for a PUBLIC route); raises ApiError 401/403/429 with a `result` note."""
        if spec.public:
            return None
        address = request.remote or "unknown"
        wait = self.failures.retry_after(address)
        if wait is not None:
            raise AccessRefused(ApiError(429, f"too many failed authentications; retry in {wait} s",
                                         headers={"Retry-After": str(wait)}), "refused_rate_limited")
        secret = bearer(request)
        if secret is None:
            raise AccessRefused(ApiError(401, "this route needs `Authorization: Bearer <token>`",
                                         headers={"WWW-Authenticate": "Bearer"}), "refused_unauthenticated")
        token = None
        if secret:
            async with self.pool.connection() as conn:
                token = await authenticate(conn, secret)
        if token is None:
            self.failures.fail(address)
            raise AccessRefused(ApiError(401, "the token is unknown, revoked or expired",
                                         headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}),
                                "refused_unauthenticated")
        who = Principal(token.id, token.name, token.role)
        if token.role not in spec.roles:
            allowed = ", ".join(sorted(spec.roles))
            refusal = ApiError(403, f"role {token.role} may not {spec.method} {spec.path}; allowed: {allowed}",
                               code="role_not_allowed")
            raise AccessRefused(refusal, "refused_forbidden", who)
        return who


class AccessRefused(Exception):
    def __init__(self, error: ApiError, result: str, principal: Principal | None = None) -> None:
        super().__init__(error.message)
        self.error, self.result, self.principal = error, result, principal
