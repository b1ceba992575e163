"""Real DJI Cloud API sample messages through MQTT into `poses` and `dead_letters`."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from testkit.gateway_harness import Publisher, count, gateway_settings, register, started, wait_for
from testkit.paths import shared_path

pytestmark = pytest.mark.integration


async def test_dji_osd_samples_become_poses(tmp_path: Path, db_url: str, private_mosquitto: str) -> None:
    samples = shared_path("samples", "dji_cloud_api")
    aircraft = json.loads((samples / "aircraft_osd_dock2.json").read_text())
    dock_parts = json.loads((samples / "dock2_osd.json").read_text())
    airsense = (samples / "events_airsense_warning.json").read_bytes()
    register(db_url, "AC-SN-1", kind="drone")
    register(db_url, "DOCK-SN-1", kind="dock")
    gw = await started(gateway_settings(tmp_path, db_url, private_mosquitto))
    pub = Publisher(private_mosquitto)
    try:
        pub.publish_all(
            [("thing/product/AC-SN-1/osd", aircraft)]
            + [("thing/product/DOCK-SN-1/osd", part) for part in dock_parts]
            + [("thing/product/DOCK-SN-1/events", airsense)]
        )
        await wait_for(lambda: count(db_url, "SELECT count(*) FROM poses") >= 2, what="poses")
        await wait_for(lambda: count(db_url, "SELECT count(*) FROM dead_letters") >= 1, what="dead letter")
        with psycopg.connect(db_url) as conn:
            ac = conn.execute(
                "SELECT lat, lon, has_fix, alt_abs_m, yaw, pitch, source, gateway_sn, extract(epoch FROM time)"
                " FROM poses WHERE device_id = 'AC-SN-1'"
            ).fetchone()
            dock = conn.execute("SELECT lat, lon, has_fix FROM poses WHERE device_id = 'DOCK-SN-1'").fetchone()
            dead = conn.execute("SELECT topic, reason, detail FROM dead_letters").fetchall()
        # latitude/longitude 0 in the dock: no fix, never a position at 0,0
        assert ac[0] is None and ac[1] is None and ac[2] is False
        assert ac[3] == pytest.approx(38.4174652)  # `height`: ellipsoidal altitude, metres
        assert ac[4] == pytest.approx(41.7) and ac[5] == pytest.approx(2.7)
        assert ac[6].startswith("dji") and ac[7] == "dock_sn"
        assert float(ac[8]) == pytest.approx(1670422793.916)
        assert dock[2] is True and dock[0] == pytest.approx(22.907809968, abs=1e-9)
        assert dead == [("thing/product/DOCK-SN-1/events", "bad_timestamp", dead[0][2])]
        assert "16540709686556" in dead[0][2]
        assert count(db_url, "SELECT count(*) FROM poses") == 2
    finally:
        pub.close()
        await gw.stop()
