"""Alert events are stored one by one: an event the store refuses does not take the ones behind it down; it
is retried, and one that keeps failing is logged, counted and kept in alert_failures with its data. The
store refuses for real: a trigger on `alerts`, or the service's connection terminated by the server."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row
from structlog.testing import capture_logs

from detectors.sensors.engine import RuleEngine
from gateway.alerts.retry import RetryPolicy
from gateway.alerts.service import AlertService
from gateway.alerts.sinks import MqttAlertSink, SinkFanout
from gateway.catalogue import load_catalogue
from gateway.config import Settings
from gateway.metrics import Metrics
from gateway.zone_service import ZoneService
from ingest.models import Reading
from testkit.alert_scenes import LEGAL, NOISE, alerts, night_base, setup_site

pytestmark = pytest.mark.integration

DEVICES = ["noise-b", "noise-a", "noise-c"]  # the refused one first: the others come behind it in the batch


def loud_night(device: str, start: datetime, minutes: int = 22) -> list[Reading]:
    """A reading every 5 s at 65 dB(A) during the night: GB 12523's night limit (55) is exceeded once a full
    20-minute LAeq stands."""
    return [Reading(start + timedelta(seconds=5 * i), device, "LAeq", 65.0, i) for i in range(minutes * 12)]


class Service:
    """A real AlertService on the test database; `published` collects what it would put on MQTT."""

    def __init__(self, db_url: str, tmp: Path, retry: RetryPolicy) -> None:
        setup_site(db_url, *({**NOISE, **LEGAL, "id": d, "name": d} for d in DEVICES))
        self.metrics = Metrics()
        self.published: list[tuple[str, dict]] = []
        zones = ZoneService(db_url)
        zones.reload()
        engine = RuleEngine(load_catalogue(Settings(data_dir=tmp)))
        self.sinks = SinkFanout([MqttAlertSink(lambda topic, body: self.published.append((topic, body)))])
        self.sinks.start()
        self.service = AlertService(db_url, engine, zones.registry, None, self.sinks, self.metrics, retry=retry)
        self.service.start()

    def feed(self, readings: list[Reading]) -> None:
        self.service.on_stored(readings, [])
        self.service._in.join()  # the batch, and every event it raised, has been handled
        self.sinks.join()

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


def install_trigger(db_url: str, condition: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE SEQUENCE refusals")
        conn.execute(f"""
            CREATE FUNCTION refuse_alert() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.device_id = 'noise-b' AND {condition} THEN
                    RAISE EXCEPTION 'alert for % refused by the test trigger', NEW.device_id;
                END IF;
                RETURN NEW;
            END $$""")
        conn.execute("CREATE TRIGGER refuse_alert BEFORE INSERT ON alerts FOR EACH ROW EXECUTE FUNCTION refuse_alert()")


FAST = RetryPolicy(attempts=3, backoff_s=0.01, backoff_max_s=0.05)


@pytest.mark.parametrize(("condition", "stored", "retries", "failed"), [
    # nextval() is not rolled back with the refused insert: the first try fails, the retry passes
    pytest.param("nextval('refusals') = 1", DEVICES, 1, 0, id="refused-once"),
    pytest.param("true", ["noise-a", "noise-c"], FAST.attempts - 1, 1, id="refused-always"),
])
def test_refused_event_does_not_sink_the_rest_of_its_batch(
    tmp_path: Path, db_url: str, condition: str, stored: list[str], retries: int, failed: int
) -> None:
    install_trigger(db_url, condition)
    with capture_logs() as logs:
        svc = Service(db_url, tmp_path, FAST)
        try:
            start = night_base()
            svc.feed([r for d in DEVICES for r in loud_night(d, start)])
        finally:
            svc.service.stop()
            svc.sinks.stop()
    rows = alerts(db_url)
    assert sorted(r["device_id"] for r in rows) == sorted(stored)
    assert sorted(body["after"]["device_id"] for _t, body in svc.published if body["type"] == "new") == sorted(stored)
    assert svc.sample("enforcegw_alert_retries_total", reason="error") == retries
    assert svc.sample("enforcegw_alert_events_failed_total") == failed
    retry_lines = [e for e in logs if e["event"] == "alerts.store_retry"]
    assert len(retry_lines) == retries and all(e["device"] == "noise-b" for e in retry_lines)
    assert all("refused by the test trigger" in e["error"] for e in retry_lines)
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        kept = conn.execute("SELECT * FROM alert_failures").fetchall()
    assert len(kept) == failed
    if failed:
        (k,) = kept
        assert (k["event_type"], k["device_id"], k["attempts"]) == ("open", "noise-b", FAST.attempts)
        assert k["rule_id"] == "gb12523_2025.night.laeq" and "refused by the test trigger" in k["error"]
        event = k["event"]
        assert event["alert_id"] == k["engine_alert_id"] and event["limit"] == 55.0
        assert event["readings"] and all(r["device_id"] == "noise-b" and r["value"] == 65.0
                                         for r in event["readings"])
        (line,) = [e for e in logs if e["event"] == "alerts.event_failed"]
        assert line["alert_failure_id"] == k["id"] and line["device"] == "noise-b" and line["attempts"] == 3


def test_lost_connection_is_waited_out_and_every_event_lands(tmp_path: Path, db_url: str) -> None:
    svc = Service(db_url, tmp_path, FAST)
    try:
        conn = svc.service._conn
        assert conn is not None
        with psycopg.connect(db_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
        start = night_base()
        svc.feed([r for d in DEVICES for r in loud_night(d, start)])
    finally:
        svc.service.stop()
        svc.sinks.stop()
    assert sorted(r["device_id"] for r in alerts(db_url)) == sorted(DEVICES)
    assert svc.sample("enforcegw_alert_retries_total", reason="store_unavailable") >= 1
    assert svc.sample("enforcegw_alert_retries_total", reason="error") == 0
    assert svc.sample("enforcegw_alert_events_failed_total") == 0


def test_later_events_of_a_refused_alert_do_not_fail_again(tmp_path: Path, db_url: str) -> None:
    """The open was refused for good: its updates and end find no row and are skipped, not dead-lettered."""
    install_trigger(db_url, "true")
    svc = Service(db_url, tmp_path, FAST)
    try:
        start = night_base()
        svc.feed(loud_night("noise-b", start, minutes=10))
        quiet = [Reading(r.time + timedelta(minutes=10), r.device_id, r.metric, 40.0, r.seq + 1000)
                 for r in loud_night("noise-b", start, minutes=30)]
        svc.feed(quiet)
    finally:
        svc.service.stop()
        svc.sinks.stop()
    assert alerts(db_url) == []
    assert svc.sample("enforcegw_alert_events_failed_total") == 1
