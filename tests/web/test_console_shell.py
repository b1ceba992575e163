"""The console shell in Debian's Chromium against a real gateway (api/web/index.html, js/main.js, api.js, i18n.js,
queue.js, keys.js): sign-in and what each role is shown, tokens refused in words, a revoked session back at
sign-in, a new alert arriving live and the stream resuming with Last-Event-ID after the connection breaks, claim
and confirm from the keyboard, refusals in words, the English switch and times in Asia/Shanghai, bulk dismiss
with a reason and a refusal reported per alert. Screenshots of each step go to build/test-shots/console-shell/
(git-ignored) to be looked at."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
import pytest_asyncio

from gateway.store.tokens import revoke_token
from testkit.api_harness import T0, ApiGateway, api_gateway, post, seed_alert
from testkit.browser import chromium, needs_chromium
from testkit.databases import create_database, drop_database
from testkit.paths import REPO

SHOTS = REPO / "build" / "test-shots" / "console-shell"
WEB = REPO / "api" / "web"
pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module"),
              needs_chromium]
WAIT_MS = 20_000


def messages(lang: str) -> dict[str, str]:
    return json.loads((WEB / "i18n" / lang / "console.json").read_text(encoding="utf-8"))


ZH, EN = messages("zh"), messages("en")


def words(template: str) -> list[str]:
    """The fixed parts of a message template (what must show whatever its {params} are)."""
    parts: list[str] = []
    for chunk in template.split("{"):
        fixed = chunk.split("}", 1)[-1] if "}" in chunk else chunk
        parts += [p for p in fixed.replace("（", " ").replace("）", " ").split(" ") if len(p) >= 2]
    return parts


class Relay:
    """A TCP relay in front of the gateway: `cut()` breaks every connection through it and refuses new ones until
    `resume()`, as a bureau network dropping would."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.open = True
        self.links: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.links |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.links -= {writer, up_writer}

    def cut(self) -> None:
        self.open = False
        for w in list(self.links):
            w.transport.abort()

    def resume(self) -> None:
        self.open = True

    async def close(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api(pg_server_url: str, migrated_template: str, mqtt_url: str,
              tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ApiGateway]:
    db = create_database(pg_server_url, "enforcegw_t", migrated_template)
    try:
        async with api_gateway(tmp_path_factory.mktemp("console-shell"), db, mqtt_url) as gw:
            yield gw
    finally:
        drop_database(pg_server_url, db)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    pg = await context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    await context.close()
    assert not errors, f"the page threw: {errors}"


async def shot(pg: Any, name: str, *, wide: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await pg.screenshot(path=str(SHOTS / f"{name}-1366.png"))
    if wide:
        await pg.set_viewport_size({"width": 1920, "height": 1080})
        await pg.screenshot(path=str(SHOTS / f"{name}-1920.png"))
        await pg.set_viewport_size({"width": 1366, "height": 768})


async def sign_in(pg: Any, base: str, secret: str) -> None:
    await pg.goto(base + "/")
    await pg.fill("#signin-token", secret)
    await pg.press("#signin-token", "Enter")


async def signed_in(pg: Any, api: ApiGateway, role: str, base: str | None = None) -> None:
    from playwright.async_api import expect

    await sign_in(pg, base or api.base, api.tokens[role])
    await expect(pg.locator("#app")).to_be_visible(timeout=WAIT_MS)
    await expect(pg.locator("#live")).to_have_attribute("data-state", "live", timeout=WAIT_MS)


def row(pg: Any, code: str) -> Any:
    return pg.locator(f'#rows li.row[data-code="{code}"]')


def alert_row(api: ApiGateway, code: str) -> dict[str, Any]:
    with psycopg.connect(api.db_url) as conn:
        cur = conn.execute("SELECT status, claimed_by_token, first_reviewer_token FROM alerts WHERE clue_code = %s",
                           (code,))
        status, holder, reviewer = cur.fetchone()
    return {"status": status, "holder": holder, "reviewer": reviewer}


async def last_dismissal(api: ApiGateway, code: str) -> str | None:
    with psycopg.connect(api.db_url) as conn:
        found = conn.execute("SELECT payload->'review'->>'reason' FROM alert_changes c JOIN alerts a ON a.id ="
                             " c.alert_id WHERE a.clue_code = %s AND c.type = 'review' ORDER BY c.id DESC LIMIT 1",
                             (code,)).fetchone()
    return found[0] if found else None


ROLE_VIEWS = [
    ("operator", ["queue", "tasks"], True),
    ("supervisor", ["queue", "legal", "tasks"], True),
    ("auditor", ["queue", "tasks"], True),
    ("admin", ["tasks"], False),
]


@pytest.mark.parametrize(("role", "views", "queue"), ROLE_VIEWS)
async def test_sign_in_shows_what_the_role_may_do_and_sign_out_forgets_the_token(
        api: ApiGateway, page: Any, role: str, views: list[str], queue: bool) -> None:
    from playwright.async_api import expect

    await sign_in(page, api.base, api.tokens[role])
    await expect(page.locator("#app")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#me-role")).to_have_text(ZH[f"role.{role}"])
    shown = [await a.get_attribute("data-view") for a in await page.locator(".sidenav a[data-view]:visible").all()]
    assert shown == views
    assert await page.locator("#queue").is_visible() is queue
    assert await page.locator("#live").is_visible() is queue
    await shot(page, f"role-{role}", wide=role == "supervisor")
    assert await page.evaluate("() => sessionStorage.getItem('enforcegw.token')") == api.tokens[role]
    await page.click("#signout")
    await expect(page.locator("#signin")).to_be_visible()
    assert await page.evaluate("() => sessionStorage.getItem('enforcegw.token')") is None


@pytest.mark.parametrize(("who", "message"), [("device", "signin.device"), ("revoked", "signin.unknown"),
                                              ("expired", "signin.unknown"), ("egw_nobody", "signin.unknown")])
async def test_a_token_that_cannot_sign_in_is_refused_in_words(api: ApiGateway, page: Any, who: str,
                                                               message: str) -> None:
    from playwright.async_api import expect

    await sign_in(page, api.base, api.tokens.get(who, who))
    await expect(page.locator("#signin-error")).to_have_text(ZH[message], timeout=WAIT_MS)
    assert await page.locator("#app").is_hidden()
    assert await page.evaluate("() => sessionStorage.getItem('enforcegw.token')") is None
    if who == "device":
        await shot(page, "signin-device-refused")


async def test_a_revoked_session_returns_to_sign_in(api: ApiGateway, page: Any) -> None:
    from playwright.async_api import TimeoutError as PlaywrightTimeout
    from playwright.async_api import expect

    token_id, secret = api.new_token("operator", "shell-revoked")
    await sign_in(page, api.base, secret)
    await expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
    await expect(page.locator("#queue-status")).not_to_have_text(ZH["queue.loading"])
    with psycopg.connect(api.db_url) as conn:
        revoke_token(conn, token_id)
    # The next request is refused (401). The click makes one; the stream or a count poll may be refused first and
    # take the app to sign-in before it, hiding the tab: the outcome asserted below either way.
    with contextlib.suppress(PlaywrightTimeout):
        await page.click('#tabs [data-status="new"]', timeout=5000)
    await expect(page.locator("#signin-error")).to_have_text(ZH["signin.expired"], timeout=WAIT_MS)
    assert await page.locator("#app").is_hidden()


async def test_a_new_alert_arrives_live_and_the_stream_resumes_after_a_break(api: ApiGateway, page: Any) -> None:
    from playwright.async_api import expect

    assert api.gw.http is not None
    relay = Relay(api.gw.http.port)
    await relay.start()
    streams: list[str | None] = []
    page.on("request", lambda r: streams.append(r.headers.get("last-event-id"))
            if r.url.endswith("/api/alerts/stream") else None)
    try:
        await signed_in(page, api, "operator", f"http://127.0.0.1:{relay.port}")
        seed_alert(api, "LIVE-0001")
        first = page.locator("#rows li.row").first
        await expect(first).to_have_attribute("data-code", "LIVE-0001", timeout=WAIT_MS)
        await expect(first).to_have_class(re.compile(r"\bunread\b"))  # not opened in this browser yet
        await shot(page, "live-new-alert")

        relay.cut()
        await expect(page.locator("#live")).to_have_attribute("data-state", "reconnecting", timeout=WAIT_MS)
        await expect(page.locator("#live-text")).to_have_text(ZH["live.reconnecting"])
        seed_alert(api, "LIVE-0002")  # while the console cannot hear
        await shot(page, "live-reconnecting")
        relay.resume()
        await expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
        await expect(first).to_have_attribute("data-code", "LIVE-0002", timeout=WAIT_MS)
        assert streams[0] is None and streams[-1] is not None and int(streams[-1]) > 0
        assert await row(page, "LIVE-0001").count() == 1  # resumed, not replayed into a second row
    finally:
        await relay.close()


async def test_enter_claims_and_c_confirms_from_the_keyboard(api: ApiGateway, page: Any) -> None:
    from playwright.async_api import expect

    await signed_in(page, api, "operator")
    seed_alert(api, "KEYS-0001")
    target = row(page, "KEYS-0001")
    await expect(target).to_have_count(1, timeout=WAIT_MS)
    for _ in range(3):
        await page.keyboard.press("k")  # up to the top: the newest
    await expect(target).to_have_class(re.compile(r"\bcursor\b"))
    await expect(target).to_have_class(re.compile(r"\bunread\b"))
    await page.keyboard.press("Enter")
    await expect(target.locator(".r-claim")).to_have_text(ZH["queue.claimed_by_me"], timeout=WAIT_MS)
    assert alert_row(api, "KEYS-0001") == {"status": "in_review", "holder": api.token_ids["operator"],
                                           "reviewer": None}
    assert "unread" not in (await target.get_attribute("class") or "")
    await shot(page, "keys-claimed", wide=True)
    await page.keyboard.press("c")
    await expect(target.locator(".r-st")).to_have_text(ZH["status.confirmed"], timeout=WAIT_MS)
    assert alert_row(api, "KEYS-0001") == {"status": "confirmed", "holder": None,
                                           "reviewer": api.token_ids["operator"]}
    await expect(page.locator(".toast-ok")).to_contain_text("KEYS-0001")
    await shot(page, "keys-confirmed")
    await page.reload()  # read stays read in this browser
    await expect(row(page, "KEYS-0001")).to_have_count(1, timeout=WAIT_MS)
    assert "unread" not in (await row(page, "KEYS-0001").get_attribute("class") or "")



async def test_an_alert_opened_just_before_a_reload_stays_read(api: ApiGateway, page: Any) -> None:
    """The read marker is saved a moment after opening (to batch a run of openings), and at once when the page
    goes: a reload straight after opening keeps it."""
    from playwright.async_api import expect

    await signed_in(page, api, "operator")
    seed_alert(api, "READ-0001")
    target = row(page, "READ-0001")
    await expect(target).to_have_count(1, timeout=WAIT_MS)
    await target.click()
    await expect(target).not_to_have_class(re.compile(r"\bunread\b"))
    await page.reload()  # within the save delay
    again = row(page, "READ-0001")
    await expect(again).to_have_count(1, timeout=WAIT_MS)
    assert "unread" not in (await again.get_attribute("class") or "")


REFUSALS = [
    ("claimed_by_other", {}, "error.claimed_by_other", "test-supervisor"),
    ("inadmissible", {"admissible": False, "inadmissible_reasons": ["calibration_expired"]}, "error.inadmissible",
     ZH["inadmissible.calibration_expired"]),
]


@pytest.mark.parametrize(("case", "cols", "message", "named"), REFUSALS)
async def test_a_refused_decision_is_said_in_words(api: ApiGateway, page: Any, case: str, cols: dict[str, Any],
                                                   message: str, named: str) -> None:
    from playwright.async_api import expect

    code = f"REFUSE-{case}"
    seed_alert(api, code, **cols)
    if case == "claimed_by_other":
        status, _ = await post(api, code, "claim", "supervisor")
        assert status == 200
    await signed_in(page, api, "operator")
    await expect(row(page, code)).to_have_count(1, timeout=WAIT_MS)
    await row(page, code).click()  # opens it (the mouse does not claim)
    await page.keyboard.press("c")  # claims first, then confirms: one of the two is refused
    toast = page.locator(".toast-error").last
    await expect(toast).to_contain_text(named, timeout=WAIT_MS)
    for fixed in words(ZH[message]):
        await expect(toast).to_contain_text(fixed)
    assert "409" not in await toast.inner_text() and "422" not in await toast.inner_text()
    assert alert_row(api, code)["status"] == "in_review"
    await shot(page, f"refused-{case}")


async def test_english_switch_and_times_in_the_configured_zone(api: ApiGateway, page: Any) -> None:
    from playwright.async_api import expect

    seed_alert(api, "LANG-0001", start=T0)  # 15:00 UTC is 23:00 in Shanghai
    await signed_in(page, api, "operator")
    time = row(page, "LANG-0001").locator(".r-time")
    await expect(time).to_have_text("2026-07-01 23:00:00", timeout=WAIT_MS)
    assert (await time.get_attribute("title") or "").startswith("2026-07-01 23:00:00 +08:00 (")
    await expect(page.locator('.sidenav [data-view="queue"] span').first).to_have_text(ZH["nav.queue"])
    await page.click('.topbar [data-lang="en"]')
    await expect(page.locator('.sidenav [data-view="queue"] span').first).to_have_text(EN["nav.queue"])
    await expect(page.locator("#me-role")).to_have_text(EN["role.operator"])
    await expect(row(page, "LANG-0001").locator(".r-kind")).to_have_text(EN["kind.construction_noise"])
    assert await page.evaluate("() => document.documentElement.lang") == "en"
    await shot(page, "english", wide=True)
    await page.reload()  # the choice is kept in this browser
    await expect(page.locator("#me-role")).to_have_text(EN["role.operator"], timeout=WAIT_MS)
    await expect(row(page, "LANG-0001").locator(".r-time")).to_have_text("2026-07-01 23:00:00", timeout=WAIT_MS)


async def test_bulk_dismiss_claims_and_dismisses_each_and_reports_a_refusal(api: ApiGateway, page: Any) -> None:
    from playwright.async_api import expect

    codes = [f"BULK-000{i}" for i in (1, 2, 3)]
    for code in codes:
        seed_alert(api, code)
    status, _ = await post(api, codes[1], "claim", "supervisor")
    assert status == 200
    await signed_in(page, api, "operator")
    await expect(page.locator("#rows li.row").first).to_have_attribute("data-code", codes[2], timeout=WAIT_MS)
    for _ in codes:  # newest first: BULK-0003, -0002, -0001
        await page.keyboard.press("x")
        await page.keyboard.press("j")
    await expect(page.locator("#bulk-count")).to_have_text(ZH["bulk.count"].replace("{count}", "3"))
    await shot(page, "bulk-selected")
    await page.click("#bulk-dismiss")
    picker = page.locator("dialog[open], #overlay-dialog:not([hidden])")
    await expect(picker.locator("input[type=radio]").first).to_be_focused(timeout=WAIT_MS)
    await page.keyboard.press("1")  # the first configured reason
    await page.keyboard.press("Enter")
    refused = page.locator(".bulk-results li")
    await expect(refused).to_have_count(1, timeout=WAIT_MS)
    await expect(refused).to_contain_text(codes[1])
    await expect(refused).to_contain_text("test-supervisor")
    await shot(page, "bulk-result", wide=True)
    for code in (codes[0], codes[2]):
        assert alert_row(api, code)["status"] == "dismissed"
        assert await last_dismissal(api, code) == "false_detection"
    assert alert_row(api, codes[1]) == {"status": "in_review", "holder": api.token_ids["supervisor"],
                                        "reviewer": None}
    await page.keyboard.press("Escape")
    await expect(page.locator("#overlay-dialog")).to_be_hidden()
    await expect(page.locator("#bulk-count")).to_have_text(ZH["bulk.count"].replace("{count}", "1"))
