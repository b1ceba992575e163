"""The demo's geofences, imported before the devices so each device is placed in its zones on import:
the construction site (GB 12523 rules), the residential block (GB 3096 class 1), the two catering premises
(GB 18483) and the drone patrol area (published with the device locations). Zone kinds bind the rules, so
without these zones the rule engine would raise no alerts for the demo devices.

`catering` is a kind the rule catalogue names, not a built-in one: the import is handed the catalogue's kinds."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import psycopg

from gateway.demo.route import PATROL
from gateway.demo.video_patrol import zone_features
from gateway.store.zones import upsert_zones
from geo.geojson_io import load_zones

SUBJECT = {"code": "440605", "name": "佛山市南海区综合行政执法局"}
# Enforcement items of the demo zones (gateway/demo/cases.py configures their names, legal basis and review).
ITEM_NIGHT_NOISE = "DEMO-SG-NOISE-NIGHT"
ITEM_FUME = "DEMO-CY-FUME"


def _box(lat: float, lon: float, half_lat: float, half_lon: float) -> list[list[float]]:
    """Counter-clockwise exterior ring (RFC 7946) of a lon/lat box around a point."""
    s, n, w, e = lat - half_lat, lat + half_lat, lon - half_lon, lon + half_lon
    return [[w, s], [e, s], [e, n], [w, n], [w, s]]


def _feature(zone_id: str, kind: str, name: str, ring: list[list[float]], **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"id": zone_id, "kind": kind, "name": name, "enforcement_subject": SUBJECT, **props}}


def demo_zones() -> dict[str, Any]:
    patrol = [[lon, lat] for lat, lon in PATROL]  # the loop runs west, south, east, north: counter-clockwise
    return {"type": "FeatureCollection", "features": [
        _feature("440605", "jurisdiction", "南海区桂城街道 (演示辖区)",
                 _box(23.0300, 113.1430, 0.0110, 0.0130), priority=1),
        _feature("demo-site-pingzhou", "construction_site", "桂城平洲地块建设工地",
                 _box(23.0289, 113.1368, 0.0007, 0.0009), priority=10, enforcement_items=[ITEM_NIGHT_NOISE]),
        _feature("demo-res-haiwu", "noise_class_1", "桂城海五路住宅区 (1类声环境功能区)",
                 _box(23.0322, 113.1489, 0.0012, 0.0015)),
        _feature("demo-catering-rest", "catering", "桂城某粤菜酒家 (餐饮油烟排放点)",
                 _box(23.0361, 113.1455, 0.0002, 0.0002), enforcement_items=[ITEM_FUME]),
        _feature("demo-catering-bbq", "catering", "桂城夜市某烧烤店 (餐饮油烟排放点)",
                 _box(23.0248, 113.1438, 0.0002, 0.0002), enforcement_items=[ITEM_FUME]),
        _feature("demo-patrol-guicheng", "patrol_area", "桂城中队无人机巡查区域", patrol),
        *zone_features(SUBJECT),  # the places the patrol video films
    ]}


def import_demo_zones(conn: psycopg.Connection, kinds: Collection[str]) -> list[str]:
    result = load_zones(demo_zones(), kinds=kinds)
    if result.errors:  # our own geometry: an error is a bug
        raise RuntimeError("demo zones rejected: " + "; ".join(f"{p.zone_id}: {p.message}" for p in result.errors))
    upsert_zones(conn, result.zones)
    return [z.id for z in result.zones]
