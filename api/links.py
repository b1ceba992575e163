"""Expiring evidence links for case systems: the media and bundle a task lists, fetched without a token. The
link's HMAC (gateway/cases/links.py) is the authority: altered or expired, it is refused with 403."""

from __future__ import annotations

import time

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from api.context import ApiContext
from api.evidence_read import send_bundle, send_media
from api.models import error
from api.routes import PUBLIC, RouteTable
from gateway.cases.links import LinkRefused, bundle_path, media_path, verify_link


class LinkQuery(BaseModel):
    """A link's own parameters, as the task listed it (checked by the handler, never trusted for more)."""

    model_config = ConfigDict(extra="forbid")

    exp: str | None = Field(default=None, max_length=20, description="Expiry, Unix seconds.")
    sig: str | None = Field(default=None, max_length=100, description="The link's HMAC, base64url.")


class MediaPath(LinkQuery):
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="SHA-256 of the file, hex.")


def register(table: RouteTable, ctx: ApiContext) -> None:
    def check(request: web.Request, path: str) -> None:
        cases = ctx.gateway.cases if ctx.gateway is not None else None
        if cases is None:
            raise error(404, "not_found", "this gateway issues no evidence links")
        try:
            verify_link(cases.links.key, path, request.query.get("exp"), request.query.get("sig"), time.time())
        except LinkRefused as exc:
            raise error(403, f"link_{exc.code}", str(exc)) from None

    async def media(request: web.Request) -> web.StreamResponse:
        sha = request.match_info["sha256"]
        check(request, media_path(sha))
        return await send_media(ctx, sha, sealed_ok=False)  # case systems get renditions

    async def bundle(request: web.Request) -> web.StreamResponse:
        code = request.match_info["clue_code"]
        check(request, bundle_path(code))
        return await send_bundle(ctx, request, code)

    table.add("GET", "/api/links/media/{sha256}", media, roles=PUBLIC, request=MediaPath, errors=(403,),
              summary="An evidence file through a task's expiring link (exp, sig); 403 when altered or expired")
    table.add("GET", "/api/links/bundle/{clue_code}", bundle, roles=PUBLIC, request=LinkQuery, errors=(403, 409),
              summary="An alert's evidence bundle through a task's expiring link (exp, sig)")
