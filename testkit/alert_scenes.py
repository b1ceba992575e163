"""A site for sensor alert tests: a jurisdiction, a construction site and a catering zone in Nanhai, devices
with a complete legal record, and readings at night."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from gateway.catalogue import load_catalogue, zone_kinds
from gateway.config import Settings
from gateway.devices import import_devices
from gateway.store.zones import upsert_zones
from geo.geojson_io import load_zones

SHANGHAI = ZoneInfo("Asia/Shanghai")
LEGAL = {"legal_review_ref": "NH-LR-2026-07", "technical_review_ref": "NH-TR-2026-07",
         "calibration_cert": "GDJL-2026-1188", "calibration_valid_until": "2099-12-31", "public_notice": "https://x/n"}


def _zone(zid: str, kind: str, lon: float, lat: float, d: float = 0.01, **props: object) -> dict:
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"id": zid, "name": zid, "kind": kind, **props}}


def setup_site(db_url: str, *devices: dict) -> None:
    fc = {"type": "FeatureCollection", "features": [
        _zone("440605", "jurisdiction", 113.0, 22.9, 0.3, priority=30,
              enforcement_subject={"code": "440605", "name": "南海区综合行政执法局"}),
        _zone("cs-1", "construction_site", 113.10, 23.00, enforcement_items=["C-NOISE-NIGHT"]),
        _zone("cat-1", "catering", 113.20, 23.00, enforcement_items=["C-FUME"]),
    ]}
    loaded = load_zones(fc, kinds=zone_kinds(load_catalogue(Settings())))
    assert not loaded.problems
    with psycopg.connect(db_url) as conn:
        upsert_zones(conn, loaded.zones)
        result = import_devices(conn, list(devices))
    assert not result.errors


def night_base() -> datetime:
    """23:00 yesterday in Shanghai: night for GB 12523, and safely in the past."""
    local = datetime.now(SHANGHAI)
    return datetime.combine(local.date() - timedelta(days=1), datetime.min.time(), SHANGHAI) + timedelta(hours=23)


def levels(device: str, metric: str, start: datetime, spec: list[tuple[float, float]], step_s: int = 5,
           seq0: int = 0) -> list[tuple[str, dict]]:
    """[(minutes, value), ...] -> one reading every step_s seconds."""
    out, t, seq = [], start, seq0
    for minutes, value in spec:
        for _ in range(int(minutes * 60 / step_s)):
            out.append((f"enf/sensor/{device}/reading", {"ts": t.isoformat(), "seq": seq, "readings": {metric: value}}))
            t += timedelta(seconds=step_s)
            seq += 1
    return out


def alerts(db_url: str) -> list[dict]:
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM alerts ORDER BY id").fetchall()


def ended(db_url: str, n: int = 1) -> bool:
    rows = alerts(db_url)
    return len(rows) >= n and all(r["end_time"] is not None for r in rows)


NOISE = {"id": "noise-cs", "kind": "sensor", "name": "Site noise", "location": {"lon": 113.105, "lat": 23.005}}
