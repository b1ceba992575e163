"""The public device page (/public, api/web/public.html and js/public.js) and the evidence verify view
(js/verify_view.js) in Debian's Chromium against a real gateway: the devices listed and mapped without a token,
each one's calibration state, the newest checkpoint and the key with the signature checked in the page, zh and
English, phone width; an entry verifying in the page, and failing with the step named when the gateway's answer
is altered on the way (route interception). Screenshots go to build/test-shots/public/ (git-ignored)."""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.site import CSP, WEB
from evidence.entry import Entry
from evidence.signer import NoteSigner
from testkit.alert_scenes import setup_site
from testkit.api_harness import ApiGateway, api_gateway, seed_alert
from testkit.browser import chromium, needs_chromium
from testkit.browser import shoot as browser_shoot
from testkit.gateway_harness import wait_for
from testkit.paths import REPO

SHOTS = REPO / "build" / "test-shots" / "public"
pytestmark = [pytest.mark.integration,
              needs_chromium]

MESSAGES = {lang: {**json.loads((WEB / "i18n" / lang / "public.json").read_text(encoding="utf-8")),
                   **json.loads((WEB / "i18n" / lang / "verify.json").read_text(encoding="utf-8"))}
            for lang in ("zh", "en")}
REVIEWED = {"legal_review_ref": "南执法审〔2026〕05号", "technical_review_ref": "南执技审〔2026〕03号",
            "public_notice": "https://www.example.gov.cn/notice/1"}
# id -> (device record, the calibration state the page shows)
DEVICES: dict[str, tuple[dict, str]] = {
    "noise-1": ({"kind": "sensor", "name": "桂城某工地噪声监测点", "location": {"lon": 113.105, "lat": 23.005},
                 "calibration_cert": "粤计检(声)字 2026-1", "calibration_valid_until": "2099-12-31",
                 "inspection_object": "某建设工程有限公司", "attrs": {"metrics": ["LAeq", "LAmax"]}, **REVIEWED},
                "valid"),
    "fume-2": ({"kind": "sensor", "name": "夜市烧烤店油烟监测", "location": {"lon": 113.21, "lat": 23.004},
                "calibration_cert": "粤计检(烟)字 2025-2", "calibration_valid_until": "2025-09-30",
                "attrs": {"metrics": ["oil_fume"]}, **REVIEWED}, "expired"),
    "dust-3": ({"kind": "sensor", "name": "扬尘监测点（未检定）", "location": {"lon": 113.12, "lat": 23.02},
                "attrs": {"metrics": ["PM10"]}}, "missing"),
    "cam-4": ({"kind": "camera", "name": "路口视频监控", "location": {"lon": 113.15, "lat": 23.01}, **REVIEWED}, "na"),
    "drone-5": ({"kind": "drone", "name": "巡查无人机", **REVIEWED}, "na"),
}
FIXED = sum(1 for spec, _ in DEVICES.values() if spec.get("location"))
VIEWPORTS = {"1366": (1366, 768), "1920": (1920, 1080), "phone": (390, 844)}


async def shoot(page: Any, name: str) -> None:
    await browser_shoot(page, SHOTS, name)


def public_scene(api: ApiGateway) -> None:
    setup_site(api.db_url, *({"id": i, **spec} for i, (spec, _) in DEVICES.items()))
    log = api.gw.evidence
    assert log is not None
    log.append(Entry(entry_type="evidence", device_id="noise-1", payload={"clue_code": "P-1"}))
    log.checkpoint()


# ------------------------------------------------------------------------------------------ the public page

PAGE_FACTS = """() => {
  const rows = [...document.querySelectorAll('#devices tbody tr')];
  return {
    rows: Object.fromEntries(rows.map((r) => [r.dataset.id, r.dataset.cal])),
    markers: document.querySelectorAll('#map path.leaflet-interactive').length,
    base: document.getElementById('map').dataset.base,
    labels: [...document.querySelectorAll('.pub-map-label')].map((l) => l.textContent),
    heading: document.querySelector('h1').textContent,
    lang: document.documentElement.lang,
    signature: document.querySelector('.pub-sig')?.dataset.ok,
    note: document.getElementById('checkpoint-note')?.textContent,
    vkey: document.getElementById('vkey')?.textContent,
    since: document.querySelector('#devices tbody tr td:nth-child(4) time')?.title,
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    text: document.body.innerText,
  };
}"""


async def test_public_page_without_a_token(tmp_path: Path, db_url: str,
                                                                      mqtt_url: str) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url) as api, chromium() as b:
        public_scene(api)
        log = api.gw.evidence
        assert log is not None
        latest = log.latest_checkpoint()
        assert latest is not None
        for lang, (name, (w, h)) in itertools.product(("zh", "en"), VIEWPORTS.items()):
            page = await b.new_page(viewport={"width": w, "height": h})
            errors: list[str] = []
            sent_auth: list[str] = []
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            page.on("request", lambda r, sent=sent_auth: sent.append(r.url) if "authorization" in r.headers else None)
            await page.goto(f"{api.base}/public")
            await page.wait_for_selector("body[data-ready='true']", timeout=20_000)
            if lang == "en":  # the switch, as a visitor would use it
                await page.click(".pub-lang button[data-lang='en']")
                await page.wait_for_selector("html[lang='en'] .pub-lang [data-lang='en'][aria-pressed='true']",
                                             state="attached")
            got = await page.evaluate(PAGE_FACTS)
            await shoot(page, f"public-{lang}-{name}")
            await page.close()
            assert not errors and not sent_auth, (errors, sent_auth)
            assert got["rows"] == {i: state for i, (_, state) in DEVICES.items()}, name
            assert got["markers"] == FIXED and got["base"] == "offline" and "440605" in got["labels"], got
            assert got["heading"] == MESSAGES[lang]["public.heading"] and got["lang"].startswith(lang)
            assert got["signature"] == "true" and got["note"] == latest.note and got["vkey"] == log.vkey.strip()
            assert got["since"] and "+08:00" in got["since"], got["since"]
            assert got["overflow"] <= 0, f"{name}: the page is wider than the screen by {got['overflow']} px"
            for key in ("public.cal.expired", "public.cal.missing", "public.kind.drone", "public.mobile"):
                assert MESSAGES[lang][key] in got["text"], key
            assert not re.search(r"\bpublic\.[a-z_]", got["text"]), "a message key shown instead of its words"

        # a checkpoint altered on the way: the page says its signature does not verify
        page = await b.new_page()

        async def altered(route: Any) -> None:
            resp = await route.fetch()
            origin, size, rest = (await resp.text()).split("\n", 2)
            await route.fulfill(response=resp, body=f"{origin}\n{int(size) + 1}\n{rest}")

        await page.route(f"{api.base}/api/public/checkpoint", altered)
        await page.goto(f"{api.base}/public")
        await page.wait_for_selector("body[data-ready='true']", timeout=20_000)
        sig = page.locator(".pub-sig")
        assert await sig.get_attribute("data-ok") == "false"
        assert MESSAGES["zh"]["public.sig_fail"].split("{")[0] in await sig.inner_text()
        await shoot(page, "public-signature-fails")



# ------------------------------------------------------------------------------------------ the verify view

VIEW_PATH = "/__test/verify.html"
VIEW_SCRIPT = "/__test/verify.js"
VIEW_PAGE = f"""<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>verify</title></head>
<body><div id="out" style="max-width:760px;margin:16px"></div><script type="module" src="{VIEW_SCRIPT}"></script>
</body></html>"""
# The view as the alert detail calls it, with the shell's api.js and i18n.js.
VIEW_JS = r"""
const q = new URLSearchParams(location.search);
sessionStorage.setItem("enforcegw.token", q.get("token"));
const { api, refusalText } = await import("/web/js/api.js");
const i18n = await import("/web/js/i18n.js");
await i18n.loadMessages(q.get("lang") || "zh");
const { renderVerify } = await import("/web/js/verify_view.js");
const entry = { index: Number(q.get("index")), role: "alert_open", leaf_hash: q.get("leaf") || undefined };
renderVerify(document.getElementById("out"), entry, { api, t: i18n.t, refusalText });
document.body.dataset.ready = "1";
"""


def _headers(content_type: str) -> dict[str, str]:
    return {"Content-Type": content_type, "Content-Security-Policy": CSP, "Cache-Control": "no-store"}


def _flip(b64: str, at: int) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[at % len(raw)] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def entry_byte(body: dict) -> None:
    body["entry"] = _flip(body["entry"], 12)


def proof_node(body: dict) -> None:
    body["proof"]["path"][0] = _flip(body["proof"]["path"][0], 3)


def proof_size(body: dict) -> None:
    body["proof"]["size"] += 1


def checkpoint_text(body: dict) -> None:
    origin, size, rest = body["proof"]["checkpoint"].split("\n", 2)
    body["proof"]["checkpoint"] = f"{origin}\n{int(size) + 1}\n{rest}"


OTHER_KEY = NoteSigner("evidence.example.test/log", Ed25519PrivateKey.from_private_bytes(bytes([9]) * 32)).vkey
# what is altered on the way, in the entry's answer or as the published key; the step named; its code
VERIFY_CASES: list[tuple[str, Callable[[dict], None] | None, str | None, str | None, str]] = [
    ("as served", None, None, None, "ok"),
    ("an entry byte", entry_byte, None, "hash", "mismatch"),
    ("a proof node", proof_node, None, "inclusion", "root_differs"),
    ("the proof's size", proof_size, None, "inclusion", "size_mismatch"),
    ("the checkpoint text", checkpoint_text, None, "signature", "bad_signature"),
    ("the published key", None, OTHER_KEY, "key", "not_signer"),
]


async def view_page(b: Any, api: ApiGateway, query: str, alter: Callable[[dict], None] | None = None,
                    vkey: str | None = None) -> Any:
    """The verify view on the gateway's origin under the console's CSP, the entry's answer passed through
    `alter` and the published key replaced by `vkey` on the way."""
    page = await b.new_page(viewport={"width": 1366, "height": 768})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    await page.route(f"{api.base}{VIEW_PATH}*", lambda route: route.fulfill(
        status=200, body=VIEW_PAGE, headers=_headers("text/html; charset=utf-8")))
    await page.route(f"{api.base}{VIEW_SCRIPT}", lambda route: route.fulfill(
        status=200, body=VIEW_JS, headers=_headers("text/javascript; charset=utf-8")))

    async def entry_answer(route: Any) -> None:
        resp = await route.fetch()
        body = await resp.json()
        if alter is not None:
            alter(body)
        await route.fulfill(response=resp, body=json.dumps(body))

    await page.route(f"{api.base}/api/evidence/entries/*", entry_answer)
    if vkey is not None:
        await page.route(f"{api.base}/api/public/vkey", lambda route: route.fulfill(
            status=200, body=vkey + "\n", headers={"Content-Type": "text/plain; charset=utf-8"}))
    await page.goto(f"{api.base}{VIEW_PATH}?token={api.tokens['operator']}&{query}")
    return page


STEPS = ["key", "signature", "hash", "inclusion"]


def verdict_problems(what: str, got: dict, failed: str | None, code: str) -> list[str]:
    """What is wrong with the view's verdict on case `what` (nothing when it is right)."""
    steps = {s: (ok, c) for s, ok, c in got["steps"]}
    zh = MESSAGES["zh"]
    if [s for s, _, _ in got["steps"]] != STEPS:
        return [f"{what}: steps {got['steps']}"]
    if failed is None:
        ok = got["failed"] == "" and all(v == "true" for v, _ in steps.values())
        return [] if ok and got["summary"].startswith(zh["verify.summary.ok"].split("#")[0]) else [f"{what}: {got}"]
    problems = []
    if got["failed"] != failed or steps[failed] != ("false", code):
        problems.append(f"{what}: want {failed}/{code}, got {got}")
    if not all(steps[s][0] == "true" for s in STEPS[:STEPS.index(failed)]):
        problems.append(f"{what}: a step before {failed} did not pass: {got['steps']}")
    if zh[f"verify.step.{failed}"] not in got["summary"]:  # the summary names the step in words
        problems.append(f"{what}: the summary does not name {failed}: {got['summary']}")
    return problems


async def test_verify_view_names_the_step_that_fails(tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    problems: list[str] = []
    async with api_gateway(tmp_path, db_url, mqtt_url) as api, chromium() as b:
        setup_site(api.db_url)
        index = seed_alert(api, "V-1")
        log = api.gw.evidence
        assert log is not None
        for i in range(4):  # a tree of a few leaves, so the proof has nodes to alter
            log.append(Entry(entry_type="evidence", device_id="d1", payload={"n": i}))
        log.checkpoint()
        async with api.request("GET", f"/api/evidence/entries/{index}", "operator") as r:
            leaf = (await r.json())["leaf_hash"]
        for what, alter, vkey, failed, code in VERIFY_CASES:
            page = await view_page(b, api, f"index={index}&leaf={leaf}", alter, vkey)
            await page.wait_for_selector(".vf[data-state='done']", timeout=20_000)
            got = await page.evaluate("""() => ({
              failed: document.querySelector('.vf').dataset.failed,
              steps: [...document.querySelectorAll('.vf-step')].map((s) => [s.dataset.step, s.dataset.ok,
                                                                           s.dataset.code]),
              summary: document.querySelector('.vf-summary').textContent,
            })""")
            await shoot(page, f"verify-{what.replace(' ', '-').replace(chr(39), '')}")
            problems += page.errors + verdict_problems(what, got, failed, code)
            await page.close()
    assert not problems, "\n".join(problems)


async def test_verify_view_says_an_entry_is_not_in_a_checkpoint_yet(tmp_path: Path, db_url: str,
                                                                    mqtt_url: str) -> None:
    # the sequencer signs the empty tree at start and then waits the hour out: the entry stays pending
    async with api_gateway(tmp_path, db_url, mqtt_url, evidence={"checkpoint_interval_s": 3600}) as api, \
            chromium() as b:
        log = api.gw.evidence
        assert log is not None
        await wait_for(lambda: log.latest_checkpoint() is not None, 10, "the first checkpoint")
        setup_site(api.db_url)
        index = seed_alert(api, "V-2")
        page = await view_page(b, api, f"index={index}&lang=en")
        await page.wait_for_selector(".vf[data-state='pending'], .vf[data-state='done']", timeout=20_000)
        state = await page.get_attribute(".vf", "data-state")
        text = await page.inner_text(".vf-summary")
    assert state == "pending", text
    assert text == MESSAGES["en"]["verify.summary.pending"].replace("{index}", str(index))
