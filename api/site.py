"""The console's static files, served by the gateway beside the API: `/` (the operator console), `/public` (the
device disclosure page, no sign-in) and `/web/...` (scripts, styles, messages, vendored libraries). Plain files,
no build step; nothing is fetched from elsewhere (the CSP says so to the browser), except map tiles when a tile
template is configured."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from aiohttp import web

WEB = Path(str(resources.files("api").joinpath("web")))
# Leaflet positions its panes with inline styles; tiles may come from a configured provider.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; media-src 'self' blob:; "
       "img-src 'self' data: blob: https: "
       "http:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def _page(name: str):
    path = WEB / name

    async def page(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(path, headers={"Content-Type": "text/html; charset=utf-8",
                                               "Content-Security-Policy": CSP, "Cache-Control": "no-cache",
                                               "X-Content-Type-Options": "nosniff"})
    return page


@web.middleware
async def _static_headers(request: web.Request, handler):
    response = await handler(request)
    if request.path.startswith("/web/"):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-cache")
    return response


def mount_site(app: web.Application) -> None:
    app.router.add_get("/", _page("index.html"))
    app.router.add_get("/public", _page("public.html"))
    app.router.add_static("/web/", WEB, follow_symlinks=False, append_version=False)
    app.middlewares.append(_static_headers)
