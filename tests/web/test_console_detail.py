"""The alert detail and its review actions in Debian's Chromium against a real gateway (api/web/js/detail.js,
chart.js, map.js, tasks.js): the chart with the limit and the readings beyond it, the map on the offline boundary
base with the zone, the device and a drone's track, the review history; WGS84 -> GCJ-02 in the page against the
shared known answers and against geo/crs.py; the dismiss reason picker; refusals in words; nothing left behind
by destroy(). Screenshots of each page go to build/test-shots/console-detail/ (git-ignored) to be looked at.

The page under test (testkit/detail_page.py) is served by route interception on the gateway's origin, with the
console's CSP, so these tests reach the detail pane without driving the queue."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
import pytest_asyncio

from api.site import WEB
from evidence.entry import Entry
from evidence.log import MediaInput
from gateway.cases.config import CaseSystem
from geo.crs import wgs84_to_gcj02
from testkit.alert_scenes import LEGAL, NOISE, setup_site
from testkit.api_harness import T0, ApiGateway, api_gateway, post, seed_alert
from testkit.browser import chromium, needs_chromium
from testkit.browser import shoot as browser_shoot
from testkit.case_tasks import SECRET, make_tasks
from testkit.databases import create_database, drop_database
from testkit.detail_page import VIEWPORTS, detail_page, static_page
from testkit.geo_testdata import cases
from testkit.paths import REPO
from testkit.read_api import add_alert

SHOTS = REPO / "build" / "test-shots" / "console-detail"
pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module"), needs_chromium]

@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


async def shoot(page: Any, name: str) -> None:
    await browser_shoot(page, SHOTS, name)


# ---------------------------------------------------------------------------------------------- the scene

DRONE = {"id": "drone-1", "kind": "drone", "name": "Patrol drone", **LEGAL}
# the noise alert's readings: one a minute from 30 min before its start to 15 after; the chart shows its
# 20-minute window before the start through the end (start + 10 min): 31 readings, 5 above the 55 dB(A) limit
READINGS = [(T0 + timedelta(minutes=m), 50.0 + m) for m in range(-30, 16)]
SHOWN, OVER = 31, 5
TRACK = [(T0 + timedelta(seconds=10 * i), 113.101 + 0.0004 * i, 23.001 + 0.0003 * i) for i in range(30)]


# Two case systems, off in the configuration so that no delivery worker touches the deliveries a test sets up.
SYSTEMS = [{"name": n, "url": "http://127.0.0.1:9/hook", "secret": [SECRET], "enabled": False}
           for n in ("city", "district")]


def noise_alert(api: ApiGateway, code: str, **cols: Any) -> None:
    """An alert of the site's noise sensor at T0, over the scene's readings."""
    seed_alert(api, code, device_id=NOISE["id"], zone_id="cs-1", lon=113.105, lat=23.005,
               enforcement_item="C-NOISE-NIGHT", **cols)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api(pg_server_url: str, migrated_template: str, mqtt_url: str,
              tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ApiGateway]:
    """One gateway for the module: a jurisdiction with a construction site, its noise sensor with readings, and a
    drone with a flight and an alert over it (D-1). Each test makes the alerts it decides on."""
    db = create_database(pg_server_url, "enforcegw_t", migrated_template)
    try:
        async with api_gateway(tmp_path_factory.mktemp("console-detail"), db, mqtt_url,
                               cases={"systems": SYSTEMS}) as gw:
            setup_site(gw.db_url, {**NOISE, **LEGAL}, DRONE)
            seed_alert(gw, "D-1", device_id=DRONE["id"], source="manual", kind="drone_patrol", zone_id="cs-1",
                       lon=TRACK[12][1], lat=TRACK[12][2], end_time=T0 + timedelta(minutes=4), detail={})
            with psycopg.connect(gw.db_url) as conn, conn.cursor() as cur:
                cur.executemany("INSERT INTO readings (time, device_id, metric, value) VALUES (%s, %s, 'LAeq', %s)",
                                [(t, NOISE["id"], v) for t, v in READINGS])
                cur.executemany("INSERT INTO poses (time, device_id, lon, lat, has_fix, source) VALUES"
                                " (%s, %s, %s, %s, true, 'test')",
                                [(t, DRONE["id"], lon, lat) for t, lon, lat in TRACK])
            yield gw
    finally:
        drop_database(pg_server_url, db)


async def alert_of(api: ApiGateway, code: str) -> dict[str, Any]:
    async with api.request("GET", f"/api/alerts/{code}", "supervisor") as r:
        assert r.status == 200
        return await r.json()


# ------------------------------------------------------------------------------------ detail, chart, map

# language, a section title in it, the alert, whether its device flies (a track on the map)
DETAILS = [("zh", "监测数据", "N-zh", False), ("en", "Readings", "N-en", False), ("en", "Map", "D-1", True)]


@pytest.mark.parametrize(("lang", "title", "code", "flies"), DETAILS, ids=[f"{c}-{lg}" for lg, _, c, _ in DETAILS])
async def test_detail_shows_chart_map_and_history(browser: Any, api: ApiGateway, lang: str, title: str, code: str,
                                                  flies: bool) -> None:
    if not flies:
        noise_alert(api, code)
    for action in ("claim", "release"):
        status, out = await post(api, code, action, "operator")
        assert status == 200, out
    for viewport in VIEWPORTS:
        async with detail_page(browser, api, "supervisor", code, lang=lang, viewport=viewport) as page:
            got = await page.evaluate("""() => {
              const q = (s) => document.querySelector(s);
              const chart = q('.dt-chart');
              const map = q('.dt-map');
              return {
                titles: [...document.querySelectorAll('.dt-section h3')].map((h) => h.textContent),
                chart: chart && !chart.closest('section').hidden ? { points: +chart.dataset.points,
                  over: +chart.dataset.over, canvas: !!chart.querySelector('canvas') } : null,
                map: { base: map.dataset.base, crs: map.dataset.crs, track: +map.dataset.trackPoints,
                       paths: map.querySelectorAll('path.leaflet-interactive').length,
                       labels: [...map.querySelectorAll('.dt-map-label')].map((l) => l.textContent) },
                history: [...document.querySelectorAll('.dt-history tbody tr')].map((r) => r.dataset.decision),
                overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
              };
            }""")
            await shoot(page, f"detail-{code}-{lang}-{viewport[0]}")
        assert title in got["titles"]
        if flies:
            assert got["chart"] is None  # no readings behind a drone finding: no empty chart either
            assert got["map"]["track"] == len(TRACK)
        else:
            assert got["chart"] == {"points": SHOWN, "over": OVER, "canvas": True}
            assert got["map"]["track"] == 0
        # the offline base: the jurisdiction drawn and named, then the zone (and the track) over it
        assert got["map"]["base"] == "offline" and got["map"]["crs"] == "wgs84"
        assert got["map"]["labels"] == ["440605"]
        # boundary, zone, and the device (fixed sensor) or the track, its two ends and where the alert was put
        assert got["map"]["paths"] == (6 if flies else 3)
        assert got["history"] == ["claim", "release"]
        assert got["overflow"] <= 0, f"the page scrolls sideways at {viewport}"


# --------------------------------------------------------------------------------------------- GCJ-02

def _forward(case: dict) -> bool:
    return case["direction"].startswith("wgs84_to_gcj02")


@pytest.mark.parametrize("case", cases("gcj02_cases", _forward) + cases("out_of_china_cases"))
async def test_gcj02_shift_in_the_page_gives_the_known_answers(browser: Any, case: dict) -> None:
    lon, lat = case["input"]["lon"], case["input"]["lat"]
    # the bbox rule's answer where the vectors give one (Seoul: the known pitfall the page shares with geo/crs.py)
    want = case.get("bbox_rule_output") or case["expected"]
    async with static_page(browser) as page:
        got = await page.evaluate("async ([lon, lat]) => (await import('/web/js/map.js')).wgs84ToGcj02(lon, lat)",
                                  [lon, lat])
    tol = case.get("tolerance_deg", 1e-9)
    assert got[0] == pytest.approx(want["lon"], abs=tol) and got[1] == pytest.approx(want["lat"], abs=tol)
    assert got == pytest.approx(list(wgs84_to_gcj02(lon, lat)), abs=1e-12)  # and what the gateway computes


# tile template and CRS; whether the device is drawn where GCJ-02 tiles have it
TILES = [("/tiles/{z}/{x}/{y}.png", "gcj02", True), ("/tiles/{z}/{x}/{y}.png", "wgs84", False), (None, "gcj02", False)]


@pytest.mark.parametrize(("tile_url", "tile_crs", "shifted"), TILES, ids=["gcj02-tiles", "wgs84-tiles", "offline"])
async def test_map_shifts_wgs84_geometry_onto_gcj02_tiles(browser: Any, tile_url: str | None, tile_crs: str,
                                                         shifted: bool) -> None:
    lon, lat = 113.105, 23.005
    zone = {"type": "Feature", "properties": {"name": "site"}, "geometry": {"type": "Polygon", "coordinates": [
        [[113.10, 23.00], [113.11, 23.00], [113.11, 23.01], [113.10, 23.01], [113.10, 23.00]]]}}
    async with static_page(browser) as page:
        got = await page.evaluate("""async ([lon, lat, zone, config]) => {
          const m = await import('/web/js/map.js');
          const h = await m.renderMap(document.getElementById('m'), { device: { lon, lat, name: 'd' }, zone, config });
          const at = [];
          h.map.eachLayer((l) => { if (l.getRadius && l.getLatLng) at.push([l.getLatLng().lng, l.getLatLng().lat]); });
          const corner = [];
          h.map.eachLayer((l) => { if (l.feature && l.getLatLngs) corner.push(l.getLatLngs()[0][0]); });
          const out = { crs: h.crs, device: at[0], corner: [corner[0].lng, corner[0].lat],
                        tiles: document.querySelectorAll('.leaflet-tile-pane img').length };
          h.destroy();
          return out;
        }""", [lon, lat, zone, {"tile_url": tile_url, "tile_crs": tile_crs, "max_zoom": 18}])
    want = wgs84_to_gcj02(lon, lat) if shifted else (lon, lat)
    corner = wgs84_to_gcj02(113.10, 23.00) if shifted else (113.10, 23.00)
    assert got["crs"] == ("gcj02" if shifted else "wgs84")
    assert got["device"] == pytest.approx(list(want), abs=1e-12)
    assert got["corner"] == pytest.approx(list(corner), abs=1e-12)
    assert (got["tiles"] > 0) == (tile_url is not None)
    if shifted:  # about 500 m in Foshan: a marker drawn unshifted would sit beside the building it means
        assert abs(got["device"][0] - lon) > 0.004


# ------------------------------------------------------------------------------------ reviewing by mouse

@pytest.mark.parametrize("key", ["1", "3"])
async def test_dismiss_with_a_reason_picked_by_its_digit(browser: Any, api: ApiGateway, key: str) -> None:
    code = f"DIS-{key}"
    noise_alert(api, code)
    async with api.request("GET", "/api/review/reasons", "operator") as r:
        reasons = (await r.json())["dismiss_reasons"]
    chosen = reasons[int(key) - 1]
    async with detail_page(browser, api, "operator", code) as page:
        await page.click(".dt-act-claim")
        await page.wait_for_selector(".dt-act-dismiss")
        await page.click(".dt-act-dismiss")
        dialog = page.locator("dialog.dt-dismiss-dialog")
        await dialog.wait_for()
        offered = await dialog.locator(".dt-reason span").all_text_contents()
        await page.keyboard.press(key)
        await dialog.locator("textarea").fill("查看现场录像后排除")
        await shoot(page, f"dismiss-picker-{key}")
        await dialog.locator("button[type=submit]").click()
        await page.wait_for_selector(".dt[data-status='dismissed']")
        why = await page.locator(".dt-history tbody tr[data-decision='dismiss'] .dt-why").text_content()
        changed = await page.evaluate("window.__detail.changed")
        await shoot(page, f"dismissed-{key}")
    body = await alert_of(api, code)
    assert offered == [r["zh"] for r in reasons]  # every configured reason, in order, in the page's language
    assert body["alert"]["status"] == "dismissed"
    assert body["reviews"][-1]["review"]["reason"] == chosen["code"]
    assert body["reviews"][-1]["review"]["text"] == "查看现场录像后排除"
    assert chosen["zh"] in why and "查看现场录像后排除" in why
    assert changed == [code, code]  # the claim, then the dismissal


async def _held_by_another_operator(api: ApiGateway, page: Any, code: str) -> str:
    _id, secret = api.new_token("operator", "李四")
    status, out = await post(api, code, "claim", secret)
    assert status == 200, out
    await page.click(".dt-act-claim")  # the page still shows it unclaimed
    return "李四"


async def _inadmissible(api: ApiGateway, page: Any, code: str) -> str:
    await page.click(".dt-act-claim")
    await page.wait_for_selector(".dt-act-confirm")
    await page.click(".dt-act-confirm")
    await page.locator("dialog button[type=submit]").click()
    return "计量检定已过期"


async def _four_eyes(api: ApiGateway, page: Any, code: str) -> str:
    await page.click(".dt-act-legal_approve")
    await page.locator("dialog button[type=submit]").click()
    return "四眼"


# the refusal's code, who looks, the alert's columns, decisions made before the page opens, the status kept
REFUSALS = [
    ("claimed_by_other", "operator", {}, [], _held_by_another_operator, "in_review"),
    ("inadmissible", "operator", {"admissible": False, "inadmissible_reasons": ["calibration_expired"]}, [],
     _inadmissible, "in_review"),
    ("four_eyes", "supervisor", {}, [("claim", None), ("confirm", {})], _four_eyes, "confirmed"),
]


@pytest.mark.parametrize(("refusal", "who", "cols", "before", "act", "status"), REFUSALS,
                         ids=[r[0] for r in REFUSALS])
async def test_a_refusal_is_shown_in_words(browser: Any, api: ApiGateway, refusal: str, who: str, cols: dict,
                                           before: list, act: Any, status: str) -> None:
    code = f"REF-{refusal}"
    noise_alert(api, code, **cols)
    for action, body in before:
        answered, out = await post(api, code, action, who, body)
        assert answered == 200, out
    async with detail_page(browser, api, who, code) as page:
        words = await act(api, page, code)
        message = page.locator(".dt-message.dt-refused")
        await message.wait_for()
        text = await message.text_content()
        await shoot(page, f"refusal-{refusal}")
    body = await alert_of(api, code)
    assert words in text, text  # the words of the refusal (who holds it, which reason, the principle) ...
    assert refusal not in text and not any(s in text for s in ("403", "409", "422")), text  # ... not its code
    assert body["alert"]["status"] == status


# ------------------------------------------------------------------------------------ media and evidence

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJ"
                       "RU5ErkJggg==")  # one pixel


async def test_an_image_is_shown_and_the_entry_verifies_in_the_page(browser: Any, api: ApiGateway) -> None:
    log = api.gw.evidence
    assert log is not None
    opened = await asyncio.to_thread(log.append, Entry(entry_type="evidence", device_id=NOISE["id"], capture_time=T0,
                                                       payload={"clue_code": "IMG-1"}),
                                     [MediaInput("snapshot", "image/png", PNG),
                                      MediaInput("window_readings", "application/x-ndjson", b'{"LAeq": 60}\n')])
    with psycopg.connect(api.db_url) as conn:
        add_alert(conn, "IMG-1", NOISE["id"], T0, zone_id="cs-1", evidence_open_idx=opened.index)
    await asyncio.to_thread(log.checkpoint)
    async with detail_page(browser, api, "operator", "IMG-1") as page:
        image = page.locator(".dt-media img")
        await page.wait_for_function("() => { const i = document.querySelector('.dt-media img');"
                                     " return i && i.complete && i.naturalWidth > 0; }")
        src = await image.get_attribute("src")
        links = await page.locator(".dt-media li").count()
        await page.click(f".dt-evidence-list li[data-index='{opened.index}'] .dt-verify")
        verdict = page.locator(".dt-verify-out .vf-summary:is([data-state='ok'], [data-state='fail'])")
        await verdict.wait_for()
        state = await verdict.get_attribute("data-state")
        await shoot(page, "media-and-verify")
    assert src.startswith("blob:")  # fetched with the token (an <img src> cannot send one), shown from memory
    assert links == 2  # the image, and the readings as a download
    assert state == "ok"


# --------------------------------------------------------------------------------------------- no leaks

async def test_destroy_leaves_no_chart_map_dialog_or_nodes_behind(browser: Any, api: ApiGateway) -> None:
    noise_alert(api, "LEAK-1")
    async with detail_page(browser, api, "operator", "LEAK-1") as page:
        got = await page.evaluate("""async () => {
          const { detail, ctx, el } = window.__detail;
          window.__detail.handle.destroy();
          const nodes = () => document.getElementsByTagName('*').length;
          const before = nodes();
          for (let i = 0; i < 5; i++) {
            const h = await detail.renderDetail(el, 'LEAK-1', ctx);
            h.destroy();
          }
          const picking = detail.pickDismissReason(ctx);
          let dialog = null;
          while (!(dialog = document.querySelector('dialog.dt-dismiss-dialog'))) {
            await new Promise((r) => setTimeout(r, 20));
          }
          dialog.dispatchEvent(new Event('cancel'));
          return { before, after: nodes(), children: el.childElementCount, picked: await picking,
                   left: document.querySelectorAll('.leaflet-container, .uplot, dialog').length };
        }""")
    assert got["children"] == 0 and got["left"] == 0 and got["picked"] is None
    assert got["after"] == got["before"]


# --------------------------------------------------------------------------------------------- tasks

def delivered_and_failed_task(api: ApiGateway, prefix: str) -> str:
    """A task the city's system acknowledged with its case number and the district's refused twice; the
    district's system disabled by a 410."""
    (task,) = make_tasks(api.db_url, 1, [CaseSystem(**{**s, "enabled": True}) for s in SYSTEMS], prefix=prefix)
    with psycopg.connect(api.db_url) as conn, conn.cursor() as cur:
        ids = dict(cur.execute("SELECT system, id FROM case_deliveries WHERE task_id = %s", (task.id,)).fetchall())
        cur.execute("UPDATE case_deliveries SET state = 'acknowledged', attempts = 1, last_status = 200,"
                     " receiver_ref = 'NH-2026-0042', delivered_at = now(), acknowledged_at = now() WHERE id = %s",
                     (ids["city"],))
        cur.execute("UPDATE case_deliveries SET state = 'push_failed', attempts = 2, last_status = 503,"
                     " last_error = '503 Service Unavailable' WHERE id = %s", (ids["district"],))
        cur.executemany("INSERT INTO case_attempts (delivery_id, n, started_at, latency_ms, status, error,"
                         " retry_after_s) VALUES (%s, %s, now(), %s, %s, %s, %s)",
                         [(ids["city"], 1, 84.2, 200, None, None),
                          (ids["district"], 1, None, None, "connection refused", None),
                          (ids["district"], 2, 120.5, 503, "503 Service Unavailable", 30.0)])
        cur.execute("INSERT INTO case_systems_disabled (system, reason) VALUES ('district', 'answered 410 Gone')"
                     " ON CONFLICT (system) DO NOTHING")
    return task.task_id


async def delivery_state(api: ApiGateway, task_id: str) -> dict[str, str]:
    async with api.request("GET", f"/api/tasks/{task_id}", "supervisor") as r:
        return {d["system"]: d["state"] for d in (await r.json())["deliveries"]}


# who looks; whether they get a retry button, see the case systems, may enable one
TASK_VIEWS = [("operator", False, False, False), ("auditor", False, True, False), ("supervisor", True, True, True)]


@pytest.mark.parametrize(("who", "retries", "systems", "enables"), TASK_VIEWS, ids=[v[0] for v in TASK_VIEWS])
async def test_tasks_show_each_delivery_its_attempts_and_what_the_role_may_do(
        browser: Any, api: ApiGateway, who: str, retries: bool, systems: bool, enables: bool) -> None:
    task_id = delivered_and_failed_task(api, f"T-{who}-")
    async with detail_page(browser, api, who, view="tasks") as page:
        row = page.locator(f"tr[data-task='{task_id}']")
        badges = await row.locator(".dt-delivery-badge").all_text_contents()
        await row.locator(".dt-task-actions button").first.click()
        attempts = page.locator(".dt-delivery[data-system='district'] .dt-attempts tbody tr")
        await attempts.first.wait_for()
        district = await attempts.all_text_contents()
        retry = await row.locator(".dt-retry").count()
        shown = await page.locator(".dt-systems tr[data-system='district']").count()
        enable = page.locator(".dt-systems tr[data-system='district'] button")
        can_enable = await enable.count()
        await shoot(page, f"tasks-{who}")
        said = []
        if enables:  # the district's system first: a retry to a system a 410 disabled is refused
            await enable.click()
            said.append(await page.locator(".dt-message:not(:empty)").text_content())
        if retries:
            await page.evaluate("document.querySelector('.dt-message').textContent = ''")
            await page.locator(f"tr[data-task='{task_id}'] .dt-retry").click()
            said.append(await page.locator(".dt-message:not(:empty)").text_content())
            await shoot(page, f"tasks-{who}-after")
    assert any("NH-2026-0042" in b and "city" in b for b in badges), badges  # the receiver's number, per system
    assert any("district" in b for b in badges) and len(badges) == 2, badges
    assert len(district) == 2 and "connection refused" in district[0] and "503" in district[1], district
    assert (retry, shown > 0, can_enable > 0) == (int(retries), systems, enables)
    if retries:
        assert (await delivery_state(api, task_id))["district"] == "pending"
        assert "district" in said[0] and task_id in said[1] and "district" in said[1], said
    with psycopg.connect(api.db_url) as conn:
        still = conn.execute("SELECT count(*) FROM case_systems_disabled WHERE system = 'district'").fetchone()[0]
    assert still == (0 if enables else 1)
    if enables:
        with psycopg.connect(api.db_url) as conn:  # the next test's task starts disabled again
            conn.execute("INSERT INTO case_systems_disabled (system, reason) VALUES ('district', 'answered 410')")


async def test_message_files_have_the_same_keys() -> None:
    zh = json.loads((WEB / "i18n" / "zh" / "detail.json").read_text(encoding="utf-8"))
    en = json.loads((WEB / "i18n" / "en" / "detail.json").read_text(encoding="utf-8"))
    assert set(zh) == set(en)
