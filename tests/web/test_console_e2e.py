"""The console end to end in Debian's Chromium against a real gateway with a case system: an operator signs in and
sees a night-noise alert, opened by MQTT readings, arrive live in the queue; opens it with Enter and confirms it
with `c`; signs out. A supervisor signs in, approves it in the legal-review queue, sees the task acknowledged by
the case system in the tasks view, verifies an evidence entry in the page (it passes) and then sees the same
check fail, naming the step, once the entry is altered on its way to the page; switches to English. A visitor
without a token sees the devices on the public page.

Each step is kept as a screenshot at 1366x768 and at 1920x1080 in test-artifacts/console/ (git-ignored), to be
looked at: the layout must read well at both sizes."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest

from api.site import WEB
from gateway.cases.signing import WebhookSecret
from gateway.cases.sink import CaseSink
from testkit.alert_scenes import LEGAL, NOISE, alerts, ended, levels, night_base, setup_site
from testkit.api_harness import ApiGateway, api_gateway
from testkit.browser import chromium, needs_chromium
from testkit.gateway_harness import Publisher, wait_for
from testkit.paths import REPO

SHOTS = REPO / "test-artifacts" / "console"
VIEWPORTS = [(1366, 768), (1920, 1080)]
WAIT_MS = 30_000
pytestmark = [pytest.mark.integration,
              needs_chromium]

SECRET = "whsec_" + base64.b64encode(b"the-city-case-system-secret-32b").decode()
ITEM = {"name": "夜间施工噪声扰民", "legal_basis": "《中华人民共和国噪声污染防治法》第八十一条", "legal_review": True}


def messages(lang: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for bundle in ("console", "detail", "verify", "public"):
        out.update(json.loads((WEB / "i18n" / lang / f"{bundle}.json").read_text(encoding="utf-8")))
    return out


ZH, EN = messages("zh"), messages("en")


def fixed_part(template: str) -> str:
    """The longest run of a message template without a {param}: what shows whatever the parameters are."""
    return max(re.split(r"\{\w+\}", template), key=len).strip()


async def shot(page: Any, name: str) -> None:
    """The page as it is now at each viewport, back at the first one afterwards."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for w, h in VIEWPORTS:
        await page.set_viewport_size({"width": w, "height": h})
        await page.wait_for_timeout(150)  # a relayout (Leaflet, uPlot) follows the resize event
        await page.screenshot(path=str(SHOTS / f"{name}-{w}.png"))
    await page.set_viewport_size({"width": VIEWPORTS[0][0], "height": VIEWPORTS[0][1]})


async def sign_in(page: Any, api: ApiGateway, role: str) -> None:
    from playwright.async_api import expect

    await page.goto(api.base + "/")
    await page.fill("#signin-token", api.tokens[role])
    await page.press("#signin-token", "Enter")
    await expect(page.locator("#me-role")).to_have_text(ZH[f"role.{role}"], timeout=WAIT_MS)
    await expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=WAIT_MS)


def _publish_night_noise(mqtt_url: str) -> None:
    """22 minutes over the night limit, then quiet: the alert opens after 20 minutes of data and ends."""
    pub = Publisher(mqtt_url)
    try:
        pub.publish_all(levels(NOISE["id"], "LAeq", night_base(), [(22, 66.0), (30, 40.0)]))
    finally:
        pub.close()


def _delivery_state(db_url: str) -> str | None:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT state FROM case_deliveries WHERE system = 'city'").fetchone()
    return row[0] if row else None


def _covered(db_url: str) -> bool:
    """Every evidence entry is under a signed checkpoint: each has its inclusion proof."""
    with psycopg.connect(db_url) as conn:
        size = conn.execute("SELECT coalesce(max(size), 0) FROM evidence_checkpoints").fetchone()[0]
        total = conn.execute("SELECT count(*) FROM evidence_entries").fetchone()[0]
    return total > 0 and size >= total


def _altered(body: bytes) -> bytes:
    """The entry answer with one byte of the entry changed (its stated hash and proof left as they were)."""
    got = json.loads(body)
    raw = bytearray(base64.b64decode(got["entry"]))
    raw[len(raw) // 2] ^= 0x01
    got["entry"] = base64.b64encode(bytes(raw)).decode()
    return json.dumps(got).encode()


async def test_operator_confirms_supervisor_approves_task_acknowledged_entry_verified(
        tmp_path: Path, db_url: str, private_mosquitto: str) -> None:
    from playwright.async_api import expect

    setup_site(db_url, {**NOISE, **LEGAL})
    systems = [{"name": "city", "url": "", "secret": SECRET, "ack_path": "case_no",
                "match": [{"items": ["C-NOISE-NIGHT"]}]}]
    async with CaseSink([WebhookSecret.parse(SECRET)], data_path=tmp_path / "city.jsonl") as city:
        systems[0]["url"] = city.url + "/tasks"
        async with api_gateway(tmp_path, db_url, private_mosquitto, enforcement={"items": {"C-NOISE-NIGHT": ITEM}},
                               cases={"systems": systems, "poll_s": 0.2},
                               evidence={"checkpoint_interval_s": 0.5}) as api, chromium() as browser:
            try:
                context = await browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
                page = await context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                loads: list[str] = []
                page.on("load", lambda pg: loads.append(pg.url))

                # --- the operator: a new alert arrives live, Enter opens and claims it, c confirms it
                await sign_in(page, api, "operator")
                await expect(page.locator("#queue-status")).to_have_text(ZH["queue.empty"], timeout=WAIT_MS)
                await shot(page, "01-operator-signed-in")
                loaded = len(loads)
                await asyncio.to_thread(_publish_night_noise, private_mosquitto)
                first = page.locator("#rows li.row").first
                await expect(first).to_have_class(re.compile(r"\barrived\b"), timeout=60_000)  # from the stream
                await expect(first).to_have_class(re.compile(r"\bunread\b"))
                assert len(loads) == loaded, "the page was reloaded"
                await wait_for(lambda: ended(db_url), 90, "the alert opened and ended")
                (alert,) = alerts(db_url)
                code = alert["clue_code"]
                row = page.locator(f'#rows li.row[data-code="{code}"]')
                await expect(row).to_have_count(1)
                await expect(row.locator(".r-kind")).to_have_text(ZH["kind.construction_noise"])
                await shot(page, "02-alert-arrived-live")

                await page.keyboard.press("k")  # the cursor onto the newest row (it is there already: stays)
                await expect(row).to_have_class(re.compile(r"\bcursor\b"))
                await page.keyboard.press("Enter")
                await expect(row.locator(".r-claim")).to_have_text(ZH["queue.claimed_by_me"], timeout=WAIT_MS)
                detail = page.locator(f'#detail .dt[data-code="{code}"]')
                await expect(detail).to_have_attribute("data-status", "in_review", timeout=WAIT_MS)
                await expect(detail.locator(".dt-chart canvas")).to_have_count(1, timeout=WAIT_MS)
                await expect(detail.locator(".dt-map .leaflet-interactive").first).to_be_attached(timeout=WAIT_MS)
                await shot(page, "03-opened-and-claimed")

                await page.keyboard.press("c")
                await expect(row.locator(".r-st")).to_have_text(ZH["status.confirmed"], timeout=WAIT_MS)
                await expect(page.locator(".toast-ok").last).to_contain_text(code)
                await expect(detail).to_have_attribute("data-status", "confirmed", timeout=WAIT_MS)
                await shot(page, "04-confirmed-with-c")
                with psycopg.connect(db_url) as conn:
                    status, reviewer = conn.execute("SELECT status, first_reviewer_token FROM alerts"
                                                    " WHERE clue_code = %s", (code,)).fetchone()
                assert (status, reviewer) == ("confirmed", api.token_ids["operator"])

                await page.click("#signout")
                await expect(page.locator("#signin")).to_be_visible()
                assert await page.evaluate("() => sessionStorage.getItem('enforcegw.token')") is None
                await shot(page, "05-signed-out")

                # --- the supervisor: approve in the legal-review queue, the task acknowledged
                await sign_in(page, api, "supervisor")
                await page.click('.sidenav [data-view="legal"]')
                legal = page.locator(f'#rows li.row[data-code="{code}"]')
                await expect(page.locator("#queue-title")).to_contain_text(fixed_part(ZH["queue.title_legal"]))
                await expect(legal).to_have_count(1, timeout=WAIT_MS)
                await legal.click()
                await expect(detail.locator(".dt-act-legal_approve")).to_be_visible(timeout=WAIT_MS)
                await shot(page, "06-legal-review-queue")
                await detail.locator(".dt-act-legal_approve").click()
                dialog = page.locator("dialog[open]")
                await dialog.locator("textarea").fill("无夜间施工证明，证据充分")
                await shot(page, "07-legal-approve-dialog")
                await dialog.locator("button[type=submit]").click()
                await expect(detail).to_have_attribute("data-status", "approved", timeout=WAIT_MS)
                await expect(detail.locator(".dt-history tbody tr[data-decision='legal_review']")).to_have_count(1)
                await shot(page, "08-approved")

                await wait_for(lambda: _delivery_state(db_url) == "acknowledged", 60, "the city's acknowledgement")
                (receipt,) = city.receipts
                await page.click('.sidenav [data-view="tasks"]')
                task = page.locator(".dt-task-table tbody tr[data-task]")
                await expect(task).to_have_count(1, timeout=WAIT_MS)
                await expect(task).to_contain_text(code)
                await expect(task.locator(".dt-delivery-badge [data-state]")).to_have_attribute(
                    "data-state", "acknowledged")
                await expect(task.locator(".dt-ref")).to_have_text(receipt.case_no)
                await task.locator(".dt-task-actions button").first.click()  # its attempts
                await expect(page.locator(".dt-task-detail:not([hidden]) .dt-attempts tbody tr")).to_have_count(
                    1, timeout=WAIT_MS)
                await shot(page, "09-task-acknowledged")

                # --- an evidence entry verified in the page, then refused once altered on the way
                await wait_for(lambda: _covered(db_url), 30, "a checkpoint over every entry")
                await page.click('.sidenav [data-view="queue"]')
                await page.locator(f'#rows li.row[data-code="{code}"]').click()
                opened = detail.locator(".dt-evidence-list li").first
                await expect(opened.locator("button.dt-btn")).to_be_enabled(timeout=WAIT_MS)
                await opened.locator("button.dt-btn").click()
                verdict = opened.locator(".vf")
                await expect(verdict).to_have_attribute("data-state", "done", timeout=WAIT_MS)
                await expect(verdict.locator(".vf-summary")).to_have_attribute("data-state", "ok")
                await expect(verdict.locator(".vf-step[data-ok='false']")).to_have_count(0)
                await opened.scroll_into_view_if_needed()
                await shot(page, "10-entry-verified")

                async def alter(route: Any) -> None:
                    response = await route.fetch()
                    await route.fulfill(response=response, body=_altered(await response.body()))

                await page.route(f"{api.base}/api/evidence/entries/*", alter)
                await verdict.locator(".vf-again").click()
                await expect(verdict).to_have_attribute("data-failed", "hash", timeout=WAIT_MS)
                await expect(verdict.locator(".vf-summary")).to_have_attribute("data-state", "fail")
                await expect(verdict.locator(".vf-summary")).to_contain_text(ZH["verify.step.hash"])
                # the first step that fails is the re-hash; the proof, checked from that hash, fails after it
                await expect(verdict.locator(".vf-step[data-ok='false']").first).to_have_attribute("data-step", "hash")
                await expect(verdict.locator(".vf-step[data-step='signature']")).to_have_attribute("data-ok", "true")
                await opened.scroll_into_view_if_needed()
                await shot(page, "11-altered-entry-refused")
                await page.unroute(f"{api.base}/api/evidence/entries/*")

                # --- English
                await page.click('.topbar [data-lang="en"]')
                await expect(page.locator("#me-role")).to_have_text(EN["role.supervisor"])
                await expect(page.locator('.sidenav [data-view="queue"] span').first).to_have_text(EN["nav.queue"])
                await expect(row.locator(".r-st")).to_have_text(EN["status.approved"])
                await expect(detail.locator(".dt-evidence h3")).to_have_text(EN["detail.evidence"], timeout=WAIT_MS)
                assert await page.evaluate("() => document.documentElement.lang") == "en"
                await shot(page, "12-english")
                assert not errors, f"the console threw: {errors}"
                await context.close()

                # --- the public page, no token
                visitor = await browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
                public = await visitor.new_page()
                public.on("pageerror", lambda exc: errors.append(str(exc)))
                authorized: list[str] = []
                public.on("request", lambda r: authorized.append(r.url) if "authorization" in r.headers else None)
                await public.goto(api.base + "/public")
                await public.wait_for_selector("body[data-ready='true']", timeout=WAIT_MS)
                device = public.locator(f'#devices tbody tr[data-id="{NOISE["id"]}"]')
                await expect(device).to_have_count(1)
                await expect(device).to_contain_text(NOISE["name"])
                await expect(device).to_contain_text(LEGAL["calibration_cert"])
                await expect(public.locator("#map path.leaflet-interactive").first).to_be_attached()
                await expect(public.locator("h1")).to_have_text(ZH["public.heading"])
                await shot(public, "13-public-devices")
                assert authorized == [] and not errors, (authorized, errors)
                await visitor.close()
            finally:
                await browser.close()
