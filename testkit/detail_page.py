"""A page that renders one alert detail (or the tasks view) with the console's own modules, served by route
interception on the gateway's origin under the console's CSP, so detail tests reach the pane without driving the
queue; and a blank page whose /web/ is api/web/, for the pure map functions."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from api.site import CSP, WEB
from testkit.api_harness import ApiGateway

PAGE_PATH = "/__test/detail.html"
SCRIPT_PATH = "/__test/detail.js"

PAGE = f"""<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>detail test</title>
<link rel="stylesheet" href="/web/css/detail.css">
<style>body {{ margin: 0; font: 14px system-ui, sans-serif; }}</style>
</head><body><section id="detail"></section><script type="module" src="{SCRIPT_PATH}"></script></body></html>"""

# The detail's ctx as the shell builds it (js/main.js), from the shell's modules when they are there.
SCRIPT = r"""
const q = new URLSearchParams(location.search);
const lang = q.get("lang") || "zh";
document.documentElement.lang = lang;
if (q.get("token")) sessionStorage.setItem("enforcegw.token", q.get("token"));

async function optional(path) {
  try { return await import(path); } catch { return null; }
}

class StandInError extends Error {
  constructor(status, code, message, field) { super(message); Object.assign(this, { status, code, field }); }
}

function standInApi() {
  const token = () => sessionStorage.getItem("enforcegw.token");
  async function call(method, path, params, body) {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params || {})) if (v != null) url.searchParams.set(k, v);
    const r = await fetch(url, { method, headers: { Authorization: `Bearer ${token()}`,
      ...(body ? { "Content-Type": "application/json" } : {}) }, body: body ? JSON.stringify(body) : undefined });
    const data = await r.json().catch(() => null);
    if (!r.ok) {
      const e = (data && data.error) || {};
      throw new StandInError(r.status, e.code || "error", e.message || r.statusText, e.field);
    }
    return data;
  }
  return { token, get: (p, params) => call("GET", p, params), post: (p, body) => call("POST", p, null, body) };
}

async function standInI18n() {
  const messages = {};
  for (const b of ["console", "detail", "verify"]) {
    const r = await fetch(`/web/i18n/${lang}/${b}.json`);
    if (r.ok) Object.assign(messages, await r.json());
  }
  const t = (k, p = {}) => (messages[k] ?? k).replace(/\{(\w+)\}/g, (m, n) => (n in p ? String(p[n]) : m));
  let tz = "Asia/Shanghai";
  const fmtTime = (iso) => {
    const f = new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
    const p = Object.fromEntries(f.formatToParts(new Date(iso)).map((x) => [x.type, x.value]));
    const text = `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
    return { text, title: `${text} (${iso})` };
  };
  const timeEl = (iso) => {
    const el = document.createElement("time");
    const { text, title } = fmtTime(iso);
    el.dateTime = iso; el.textContent = text; el.title = title;
    return el;
  };
  return { t, fmtTime, timeEl, setTimezone: (z) => { tz = z; } };
}

const apiMod = await optional("/web/js/api.js");
const i18nMod = await optional("/web/js/i18n.js");
const api = apiMod ? apiMod.api : standInApi();
let i18n = i18nMod;
if (i18nMod) await i18nMod.loadMessages(lang);
else i18n = await standInI18n();
const config = await (await fetch("/api/console/config")).json();
if (i18n.setTimezone) i18n.setTimezone(config.timezone);
const refusalText = apiMod && apiMod.refusalText ? apiMod.refusalText : (e) => e.message;
const me = await api.get("/api/me");
const changed = [];
const ctx = { api, me, config, t: i18n.t, fmtTime: i18n.fmtTime, timeEl: i18n.timeEl, refusalText,
  onChanged: (code) => changed.push(code) };
const el = document.getElementById("detail");
const detail = await import("/web/js/detail.js");
const view = q.get("view") || "detail";
const handle = view === "tasks" ? await (await import("/web/js/tasks.js")).renderTasks(el, ctx)
  : q.get("code") ? await detail.renderDetail(el, q.get("code"), ctx) : null;
window.__detail = { ctx, handle, detail, el, changed };
document.body.dataset.ready = "1";
"""

VIEWPORTS = [(1366, 768), (1920, 1080)]


def _headers(content_type: str) -> dict[str, str]:
    return {"Content-Type": content_type, "Content-Security-Policy": CSP, "Cache-Control": "no-store"}


@contextlib.asynccontextmanager
async def detail_page(browser: Any, api: ApiGateway, who: str, code: str | None = None, *, lang: str = "zh",
                      view: str = "detail", viewport: tuple[int, int] = VIEWPORTS[0]) -> AsyncIterator[Any]:
    """A page showing alert `code` (or the tasks view) to `who` (a role or a secret); page errors fail the test."""
    context = await browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    try:
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        async def html(route: Any) -> None:
            await route.fulfill(status=200, body=PAGE, headers=_headers("text/html; charset=utf-8"))

        async def script(route: Any) -> None:
            await route.fulfill(status=200, body=SCRIPT, headers=_headers("text/javascript; charset=utf-8"))

        await page.route(f"{api.base}{PAGE_PATH}*", html)
        await page.route(f"{api.base}{SCRIPT_PATH}", script)
        secret = api.tokens.get(who, who)
        query = f"?lang={lang}&view={view}&token={secret}" + (f"&code={code}" if code else "")
        await page.goto(f"{api.base}{PAGE_PATH}{query}")
        await page.wait_for_selector("body[data-ready='1']", state="attached", timeout=20_000)
        yield page
        assert not errors, errors
    finally:
        await context.close()


@contextlib.asynccontextmanager
async def static_page(browser: Any) -> AsyncIterator[Any]:
    """A blank page on a made-up origin whose /web/ is api/web/ (for the pure map functions; no gateway)."""
    origin = "http://console.test"
    context = await browser.new_context()
    try:
        page = await context.new_page()

        async def files(route: Any) -> None:
            rel = route.request.url.removeprefix(f"{origin}/web/").split("?")[0]
            path = (WEB / rel).resolve()
            if WEB.resolve() not in path.parents or not path.is_file():
                await route.fulfill(status=404, body="")
                return
            kind = {"js": "text/javascript", "css": "text/css", "json": "application/json"}.get(path.suffix[1:],
                                                                                              "application/octet-stream")
            await route.fulfill(status=200, body=path.read_bytes(), headers=_headers(kind))

        async def blank(route: Any) -> None:
            await route.fulfill(status=200, body="<!doctype html><div id=m style='height:300px'></div>",
                                headers=_headers("text/html"))

        await page.route(f"{origin}/web/**", files)
        await page.route(f"{origin}/", blank)
        await page.route(f"{origin}/tiles/**", lambda route: route.fulfill(status=404, body=""))
        await page.goto(f"{origin}/")
        yield page
    finally:
        await context.close()
