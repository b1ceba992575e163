"""The console's own reads and its static site: who is signed in, counts per review state, zones and public
boundaries as GeoJSON, a device's track, the console settings, and the pages with their security headers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from testkit.alert_scenes import NOISE, setup_site
from testkit.api_harness import api_gateway, seed_alert

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("who", "status"), [("operator", 200), ("admin", 200), ("device", 403), (None, 401)])
async def test_me(tmp_path: Path, db_url: str, mqtt_url: str, who: str | None, status: int) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url) as api, api.request("GET", "/api/me", who) as r:
        assert r.status == status
        if status == 200:
            body = await r.json()
            assert (body["role"], body["name"], body["token_id"]) == (who, f"test-{who}", api.token_ids[who])


async def test_counts_follow_the_filters(tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url) as api:
        for i, status in enumerate(["new", "new", "dismissed", "confirmed"]):
            seed_alert(api, f"K-{i}", device_id="d1" if i < 3 else "d2", status=status,
                       **({"first_reviewer_token": api.token_ids["operator"], "first_reviewer_name": "x",
                           "first_reviewed_at": datetime.now(UTC),
                           "legal_review_required": True} if status == "confirmed" else {}))
        async with api.request("GET", "/api/alerts/counts", "operator") as r:
            all_ = await r.json()
        async with api.request("GET", "/api/alerts/counts", "auditor", params={"device": "d1"}) as r:
            d1 = await r.json()
        async with api.request("GET", "/api/alerts/counts", "auditor", params={"from": "2020-01-01"}) as r:
            assert r.status == 400 and (await r.json())["error"]["field"] == "from"
    assert all_["by_status"] == {"new": 2, "in_review": 0, "confirmed": 1, "dismissed": 1, "approved": 0,
                                 "rejected": 0}
    assert all_["queues"] == {"legal_review": 1, "case_ready": 0} and all_["total"] == 4
    assert d1["total"] == 3 and d1["queues"]["legal_review"] == 0


async def test_zones_boundaries_and_track(tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    setup_site(db_url, NOISE)
    t0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO devices (id, kind, name) VALUES ('uav1', 'drone', 'M30T')")
        conn.execute("INSERT INTO zones (id, kind, name, spec) VALUES ('patrol-1', 'patrol_area', '巡查区', %s)",
                     (json.dumps({"id": "patrol-1", "kind": "patrol_area", "name": "巡查区", "geometry": {
                         "type": "Polygon", "coordinates": [[[113, 23], [113.1, 23], [113.1, 23.1], [113, 23]]]}}),))
        for i in range(5):
            conn.execute("INSERT INTO poses (time, device_id, lat, lon, has_fix, alt_rel_m, source, received_at)"
                         " VALUES (%s, 'uav1', %s, %s, %s, 80, 'test', now())",
                         (t0 + timedelta(seconds=i), None if i == 2 else 23.0 + i * 0.001, None if i == 2 else 113.1,
                          i != 2))
    async with api_gateway(tmp_path, db_url, mqtt_url) as api:
        async with api.request("GET", "/api/zones", "operator", params={"kind": "construction_site"}) as r:
            assert r.content_type == "application/geo+json"
            zones = json.loads(await r.text())
        async with api.request("GET", "/api/public/boundaries", None) as r:
            public = json.loads(await r.text())
        async with api.request("GET", "/api/zones", None) as r:
            assert r.status == 401
        async with api.request("GET", "/api/devices/uav1/track", "supervisor",
                               params={"from": t0.isoformat(), "to": (t0 + timedelta(minutes=1)).isoformat()}) as r:
            track = json.loads(await r.text())
        async with api.request("GET", "/api/devices/uav1/track", "supervisor",
                               params={"from": t0.isoformat(), "to": t0.isoformat()}) as r:
            assert r.status == 200 and json.loads(await r.text())["geometry"]["coordinates"] == []  # empty range
        async with api.request("GET", "/api/devices/uav1/track", "supervisor",
                               params={"from": "2026-12-01T12:00:00", "to": t0.isoformat()}) as r:
            assert r.status == 400 and (await r.json())["error"]["field"] == "from"
    assert [f["id"] for f in zones["features"]] == ["cs-1"]
    assert zones["features"][0]["properties"]["enforcement_items"] == ["C-NOISE-NIGHT"]
    assert sorted(f["properties"]["kind"] for f in public["features"]) == ["jurisdiction", "patrol_area"]
    assert track["geometry"]["type"] == "LineString" and len(track["geometry"]["coordinates"]) == 4  # no fix: out
    assert track["geometry"]["coordinates"][0] == [113.1, 23.0]


async def test_console_config_and_pages(tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    console = {"tile_url": "https://t{s}.tianditu.gov.cn/vec_w/wmts?tk=K&x={x}&y={y}&l={z}", "tile_crs": "wgs84"}
    async with api_gateway(tmp_path, db_url, mqtt_url, api={"console": console}) as api:
        async with api.request("GET", "/api/console/config", None) as r:
            config = await r.json()
        pages = {}
        for path in ("/", "/public", "/web/vendor/leaflet/leaflet.js", "/web/vendor/VERSIONS.txt",
                     "/web/../../gateway/config.py"):
            async with api.session.get(api.base + path) as r:
                pages[path] = (r.status, r.headers.get("Content-Security-Policy"), r.headers.get("Content-Type"))
    assert config["tile_url"] == console["tile_url"] and config["timezone"] == "Asia/Shanghai"
    assert config["default_language"] == "zh"
    for page in ("/", "/public"):
        status, csp, ctype = pages[page]
        assert status == 200 and "default-src 'self'" in csp and ctype.startswith("text/html")
    assert pages["/web/vendor/leaflet/leaflet.js"][0] == 200
    assert pages["/web/../../gateway/config.py"][0] in (403, 404)


@pytest.mark.parametrize("tile_url", ["ftp://x/{z}/{x}/{y}", "https://x/tiles.png", "https://x/{z}/{x}"])
def test_bad_tile_templates_are_named(tile_url: str) -> None:
    from pydantic import ValidationError

    from gateway.config import Settings
    with pytest.raises(ValidationError, match="tile_url"):
        Settings(api={"console": {"tile_url": tile_url}})
