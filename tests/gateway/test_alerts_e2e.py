"""Sensor alerts end to end: MQTT readings -> rule engine -> alert row with clue code, MQTT enf/alerts/{kind}
(Frigate's {type, before, after}), evidence entries for open and end with the window's readings hashed."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from testkit.alert_scenes import LEGAL, NOISE, alerts, ended, levels, night_base, setup_site
from testkit.gateway_harness import Listener, Publisher, gateway_settings, started, wait_for

pytestmark = pytest.mark.integration


async def test_night_construction_noise_alert_lifecycle(tmp_path: Path, db_url: str, private_mosquitto: str) -> None:
    setup_site(db_url, {**NOISE, **LEGAL})
    gw = await started(gateway_settings(tmp_path, db_url, private_mosquitto))
    listener = Listener(private_mosquitto, "enf/alerts/#")
    pub = Publisher(private_mosquitto)
    try:
        pub.publish_all(levels("noise-cs", "LAeq", night_base(), [(10, 65.0), (30, 40.0)]))
        await wait_for(lambda: ended(db_url), 60, "alert opened and ended")
        (row,) = alerts(db_url)
        assert row["kind"] == "construction_noise" and row["rule_id"] == "gb12523_2025.night.laeq"
        assert re.fullmatch(r"440605-\d{8}-0001", row["clue_code"])
        assert row["subject_code"] == "440605" and row["subject_name"] == "南海区综合行政执法局"
        assert row["enforcement_item"] == "C-NOISE-NIGHT" and row["zone_id"] == "cs-1"
        assert row["admissible"] is True and row["status"] == "new" and row["end_reason"] == "cleared"
        assert row["source"] == "sensor" and row["detail"]["limit_value"] == 55.0 and row["detail"]["peak_value"] > 60.0
        await wait_for(lambda: len(listener.messages) >= 2, 10, "MQTT alert messages")
        types = [m["type"] for m in listener.messages]
        assert types[0] == "new" and types[-1] == "end" and set(types) <= {"new", "update", "end"}
        assert listener.messages[0]["before"]["clue_code"] == row["clue_code"]
        assert listener.messages[-1]["before"]["end_time"] is None and listener.messages[-1]["after"]["end_time"]
        _check_evidence(gw, db_url, row)
        await _export_and_verify(tmp_path, db_url, row["clue_code"])
    finally:
        listener.close()
        pub.close()
        await gw.stop()


def _check_evidence(gw: object, db_url: str, row: dict) -> None:
    with psycopg.connect(db_url) as conn:
        opened = json.loads(bytes(conn.execute("SELECT entry FROM evidence_entries WHERE idx = %s",
                                               (row["evidence_open_idx"],)).fetchone()[0]))
        end = json.loads(bytes(conn.execute("SELECT entry FROM evidence_entries WHERE idx = %s",
                                            (row["evidence_end_idx"],)).fetchone()[0]))
        stored = {seq: value for seq, value in conn.execute(
            "SELECT seq, value FROM readings WHERE device_id = %s", (row["device_id"],))}
    assert opened["payload"]["event"] == "alert_open" and end["payload"]["event"] == "alert_end"
    assert opened["payload"]["clue_code"] == row["clue_code"] and end["refs"] == [row["evidence_open_idx"]]
    assert opened["device_id"] == row["device_id"] and end["device_seq"] == opened["device_seq"] + 1
    media = opened["media"][0]
    assert media["role"] == "window_readings"
    with gw.evidence.media.open(media["sha256"]) as f:  # type: ignore[attr-defined]
        data = f.read()
    assert hashlib.sha256(data).hexdigest() == media["sha256"]
    lines = [json.loads(x) for x in data.splitlines()]
    # the hashed window is exactly stored readings: an auditor can recompute the Leq from it
    assert len(lines) >= 13 and all(stored[x["seq"]] == x["value"] for x in lines)
    assert all(x["device_id"] == row["device_id"] for x in lines)


async def _export_and_verify(tmp_path: Path, db_url: str, clue: str) -> None:
    """The auditor's path: export the alert's bundle with the CLI and verify it offline."""
    import asyncio
    import os

    from gateway.cli import main

    env = {"ENFORCEGW_DATABASE__URL": db_url, "ENFORCEGW_DATA_DIR": str(tmp_path)}
    os.environ.update(env)
    try:
        out = tmp_path / "alert.zip"
        await wait_for(lambda: main(["evidence", "export", "--alert", clue, "-o", str(out)]) == 0, 20,
                       "a checkpoint covering the alert's entries")
        assert await asyncio.to_thread(main, ["verify", str(out)]) == 0
    finally:
        for k in env:
            os.environ.pop(k, None)


async def test_inadmissible_device_alerts_flagged(tmp_path: Path, db_url: str, private_mosquitto: str) -> None:
    expired = {**NOISE, **LEGAL, "calibration_valid_until": "2020-01-31", "technical_review_ref": None}
    setup_site(db_url, expired)
    gw = await started(gateway_settings(tmp_path, db_url, private_mosquitto))
    pub = Publisher(private_mosquitto)
    try:
        pub.publish_all(levels("noise-cs", "LAeq", night_base(), [(22, 70.0)]))  # a full 20-min LAeq
        await wait_for(lambda: len(alerts(db_url)) == 1, 30, "alert")
        (row,) = alerts(db_url)
        assert row["admissible"] is False
        assert set(row["inadmissible_reasons"]) == {"calibration_expired", "no_technical_review"}
        with psycopg.connect(db_url) as conn:  # readings are still stored
            assert conn.execute("SELECT count(*) FROM readings").fetchone()[0] == 22 * 12
    finally:
        pub.close()
        await gw.stop()


async def test_restart_mid_exceedance_keeps_one_alert(tmp_path: Path, db_url: str, private_mosquitto: str) -> None:
    setup_site(db_url, {**NOISE, **LEGAL})
    settings = gateway_settings(tmp_path, db_url, private_mosquitto)
    stream = levels("noise-cs", "LAeq", night_base(), [(22, 66.0), (4, 66.0), (30, 40.0)])
    first, rest = stream[:264], stream[264:]  # 22 loud minutes (a full 20-min window), then the restart
    gw = await started(settings)
    pub = Publisher(private_mosquitto)
    try:
        pub.publish_all(first)
        await wait_for(lambda: len(alerts(db_url)) == 1, 30, "alert opened before the restart")
        await gw.stop()
        gw = await started(settings)
        pub.publish_all(rest)
        await wait_for(lambda: ended(db_url), 60, "alert ended after the restart")
        rows = alerts(db_url)
        assert len(rows) == 1, "the restart opened a duplicate"
        assert rows[0]["end_reason"] == "cleared"
    finally:
        pub.close()
        await gw.stop()


async def test_oil_fume_alert_opens_and_closes(tmp_path: Path, db_url: str, private_mosquitto: str) -> None:
    fume = {"id": "fume-1", "kind": "sensor", "name": "Restaurant fume", "location": {"lon": 113.205, "lat": 23.005},
            **LEGAL}
    setup_site(db_url, fume)
    gw = await started(gateway_settings(tmp_path, db_url, private_mosquitto))
    pub = Publisher(private_mosquitto)
    try:
        dinner = night_base() - timedelta(hours=4, minutes=30)  # 18:30 local
        # GB 18483: five 10-min samples; the alert ends once five clean samples stand (19:00-19:50)
        pub.publish_all(levels("fume-1", "oil_fume", dinner, [(25, 3.2), (60, 0.4)], step_s=30))
        await wait_for(lambda: ended(db_url), 60, "fume alert ended")
        (row,) = alerts(db_url)
        assert row["kind"] == "oil_fume" and row["rule_id"].startswith("gb18483")
        assert row["detail"]["limit_value"] == 2.0 and row["enforcement_item"] == "C-FUME"
    finally:
        pub.close()
        await gw.stop()
