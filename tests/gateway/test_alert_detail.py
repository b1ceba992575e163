"""Per-source alert detail: each source's model refuses what does not belong to it, and the migration keeps every
sensor alert that existed before the split."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.rows import dict_row
from pydantic import ValidationError

from gateway.alerts.detail import detail_for
from gateway.store.migrate import _apply, _sql_files, apply_migrations

SENSOR = {"standard": "GB 12523-2011", "clause": "4.1", "metric": "LAeq", "unit": "dB(A)", "averaging": "leq",
          "window_s": 1200.0, "comparison": "gt", "limit_value": 55.0, "peak_value": 61.2, "last_value": 58.0}


@pytest.mark.parametrize(("source", "data", "problem"), [
    ("sensor", {**SENSOR, "label": "car"}, "label"),
    ("sensor", {k: v for k, v in SENSOR.items() if k != "limit_value"}, "limit_value"),
    ("sensor", {**SENSOR, "window_s": -1}, "window_s"),
    ("video", {"detector": "yolo", "label": "car", "confidence": 1.5}, "confidence"),
    ("video", {"detector": "yolo", "label": "car", "confidence": 0.9, "metric": "LAeq"}, "metric"),
    ("manual", {"note": "seen"}, "reported_by"),
])
def test_detail_refuses_what_its_source_does_not_say(source: str, data: dict, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        detail_for(source, data)


def test_detail_unknown_source() -> None:
    with pytest.raises(ValueError, match="unknown alert source"):
        detail_for("radar", {})


@pytest.mark.parametrize(("source", "data"), [
    ("sensor", SENSOR),
    ("video", {"detector": "yolo11n", "label": "street_vendor", "confidence": 0.81, "track_id": 7,
               "bbox": [1, 2, 30, 40], "frame_time": "2026-05-01T08:00:00+08:00"}),
    ("manual", {"reported_by": "op-1", "channel": "hotline", "note": "burning at the corner"}),
])
def test_detail_round_trips_as_json(source: str, data: dict) -> None:
    out = detail_for(source, data)
    assert detail_for(source, out) == out


@pytest.mark.integration
def test_migration_moves_sensor_figures_into_detail_and_keeps_review_states(empty_db: str) -> None:
    files = _sql_files()
    before = [(v, sql) for v, sql in files if v < "0070"]
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz"
                     " NOT NULL DEFAULT now())")
        for version, sql in before:
            _apply(conn, version, sql)
        conn.execute("INSERT INTO devices (id, kind, name) VALUES ('n1', 'sensor', 'n1')")
        for i, status in enumerate(["new", "pushed", "dismissed"]):
            conn.execute(
                "INSERT INTO alerts (clue_code, engine_alert_id, kind, rule_id, standard, clause, device_id,"
                " subject_code, metric, unit, averaging, window_s, limit_value, start_time, peak_time, peak_value,"
                " last_value, severity, admissible, status) VALUES (%s, %s, 'construction_noise', %s,"
                " 'GB 12523-2011', '4.1', 'n1', '440605', 'LAeq', 'dB(A)', 'leq', 1200, 55, now(), now(), 61.2,"
                " 58, 'high', true, %s)", (f"C-{i}", f"e{i}", f"r{i}", status))
    apply_migrations(empty_db, allow_timescale=False)
    with psycopg.connect(empty_db) as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT clue_code, source, status, detail FROM alerts ORDER BY clue_code").fetchall()
    assert [(r["clue_code"], r["source"], r["status"]) for r in rows] == [
        ("C-0", "sensor", "new"), ("C-1", "sensor", "confirmed"), ("C-2", "sensor", "dismissed")]
    for r in rows:
        detail = detail_for("sensor", r["detail"])
        assert (detail["limit_value"], detail["peak_value"], detail["metric"]) == (55.0, 61.2, "LAeq")
    with psycopg.connect(empty_db) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE alerts SET status = 'pushed'")
