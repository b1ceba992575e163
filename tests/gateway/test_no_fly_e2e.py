"""No-fly zones in the running gateway: a zone imported while it runs is picked up (atomic reload), and a
drone pose inside it raises enter/exit events on MQTT."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from gateway.store.zones import upsert_zones
from geo.geojson_io import load_zones
from testkit.gateway_harness import Listener, Publisher, gateway_settings, register, started, wait_for

pytestmark = pytest.mark.integration

NO_FLY = {"type": "FeatureCollection", "features": [{
    "type": "Feature",
    "geometry": {"type": "Polygon", "coordinates": [[[113.10, 23.00], [113.12, 23.00], [113.12, 23.02],
                                                     [113.10, 23.02], [113.10, 23.00]]]},
    "properties": {"id": "nf-airport", "name": "Airport approach", "kind": "no_fly", "priority": 50,
                   "enforcement_items": ["A-UAV-01"]},
}]}


def _pose(t: datetime, lon: float, lat: float, alt: float = 120.0) -> dict:
    return {"ts": t.isoformat(), "lat": lat, "lon": lon, "alt_rel_m": alt, "yaw": 90.0}


async def test_no_fly_zone_added_at_runtime_raises_enter_and_exit(
    tmp_path: Path, db_url: str, private_mosquitto: str
) -> None:
    register(db_url, "uav-1", kind="drone")
    gw = await started(gateway_settings(tmp_path, db_url, private_mosquitto))
    listener = Listener(private_mosquitto, "enf/events/no_fly")
    pub = Publisher(private_mosquitto)
    try:
        assert len(gw.zones.registry.index.zones) == 0
        with psycopg.connect(db_url) as conn:
            upsert_zones(conn, load_zones(NO_FLY).zones)
        await wait_for(lambda: len(gw.zones.registry.index.zones) == 1, 10, "zone reload after NOTIFY")
        t0 = datetime.now(UTC) - timedelta(minutes=5)
        track = [(113.05, 23.01), (113.11, 23.01), (113.111, 23.011), (113.15, 23.01)]
        pub.publish_all([("enf/drone/uav-1/pose", _pose(t0 + timedelta(seconds=i), lon, lat))
                         for i, (lon, lat) in enumerate(track)])
        await wait_for(lambda: len(listener.messages) >= 2, 15, "no-fly events")
        assert [(m["type"], m["zone_id"], m["device_id"]) for m in listener.messages] == [
            ("enter", "nf-airport", "uav-1"), ("exit", "nf-airport", "uav-1")]
        assert listener.messages[0]["enforcement_items"] == ["A-UAV-01"]
        assert gw.metrics.no_fly_events.labels("enter")._value.get() == 1
        # on the ground inside the zone (landed, 0 m above take-off) is not flying through it
        pub.publish_all([("enf/drone/uav-1/pose", _pose(t0 + timedelta(seconds=10), 113.11, 23.01, alt=0.0))])
        await wait_for(lambda: gw.metrics.poses_stored._value.get() >= 5, 10, "landed pose stored")
        assert len(listener.messages) == 2
    finally:
        listener.close()
        pub.close()
        await gw.stop()
