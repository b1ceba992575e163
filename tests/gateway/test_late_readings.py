"""Readings the rule engine skips as late are counted by metric (/metrics) and logged in aggregate: the first at
once, then one summary a minute, with how far behind the worst one was."""

from __future__ import annotations

import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from gateway.app import Gateway
from gateway.config import Settings
from testkit.alert_scenes import LEGAL, NOISE, levels, night_base, setup_site
from testkit.gateway_harness import Publisher, count, gateway_settings, started, wait_for
from testkit.rules_helpers import catalogue, good_device, reading, rule


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def late_total(gw: Gateway, metric: str) -> float:
    return gw.metrics.registry.get_sample_value("enforcegw_readings_late_total", {"metric": metric}) or 0.0


def skipped_lines(logs: list[dict]) -> list[dict]:
    return [e for e in logs if e["event"] == "alerts.late_readings_skipped"]


@pytest.mark.parametrize("lateness_s", [0.0, 5.0])
def test_late_readings_are_counted_and_logged_in_aggregate(tmp_path: Path, lateness_s: float) -> None:
    with capture_logs() as logs:
        gw = Gateway(Settings(data_dir=tmp_path, alerts={"lateness_s": lateness_s}))
        clock = gw.late.clock = Clock()
        engine = gw._rule_engine(catalogue(rule()))  # as the gateway builds it for the alert service
        engine.add_device(good_device("d1"))
        engine.add_device(good_device("d2"))
        engine.feed_many([reading(s, 1.0, device=d) for s in range(0, 100) for d in ("d1", "d2")])
        engine.feed(reading(69.5, 1.0, device="d1"))  # 29.5 s behind its stream's newest reading (99)
        assert late_total(gw, "x") == 1
        (first,) = skipped_lines(logs)
        assert first["skipped"] == 1 and first["devices"] == ["d1"] and first["metrics"] == {"x": 1}
        assert first["max_lag_s"] == 29.5 and first["lateness_s"] == lateness_s

        for s in range(40, 60):  # more within the minute: counted, not a line each
            engine.feed(reading(s + 0.5, 1.0, device="d2"))
        engine.feed(reading(9.5, 1.0, device="d1"))
        assert late_total(gw, "x") == 22 and len(skipped_lines(logs)) == 1
        gw.late.flush()
        assert len(skipped_lines(logs)) == 1
        clock.now += 60
        gw.late.flush()
        _, summary = skipped_lines(logs)
        assert summary["skipped"] == 21 and summary["metrics"] == {"x": 21}
        assert summary["devices"] == ["d2", "d1"] and summary["more_devices"] == 0
        assert summary["max_lag_s"] == 89.5
        gw.late.flush(force=True)  # nothing new: no line
        assert len(skipped_lines(logs)) == 2
    assert engine.counters["late"] == 22


def test_summary_names_a_few_devices_and_counts_the_rest(tmp_path: Path) -> None:
    with capture_logs() as logs:
        gw = Gateway(Settings(data_dir=tmp_path))
        gw.late.clock = Clock()
        engine = gw._rule_engine(catalogue(rule()))
        devices = [f"d{i}" for i in range(8)]
        for d in devices:
            engine.add_device(good_device(d))
            engine.feed_many([reading(10, 1.0, device=d), reading(5.5, 1.0, device=d)])
        gw.late.flush(force=True)
    first, rest = skipped_lines(logs)
    assert first["devices"] == ["d0"]
    assert rest["skipped"] == 7 and len(rest["devices"]) == 5 and rest["more_devices"] == 2


@pytest.mark.integration
async def test_gateway_exposes_late_readings_on_metrics(tmp_path: Path, db_url: str, mqtt_url: str) -> None:
    setup_site(db_url, {**NOISE, **LEGAL})
    gw = await started(gateway_settings(tmp_path, db_url, mqtt_url))
    pub = Publisher(mqtt_url)
    try:
        start = night_base()
        pub.publish_all(levels("noise-cs", "LAeq", start, [(2, 50.0)]))  # 24 readings, 5 s apart
        await wait_for(lambda: count(db_url, "SELECT count(*) FROM readings") == 24, 20, "readings stored")
        await wait_for(lambda: gw.alerts is not None and gw.alerts._in.unfinished_tasks == 0, 20,
                       "readings evaluated")
        old = start + timedelta(seconds=30)
        pub.publish_all([("enf/sensor/noise-cs/reading",
                          {"ts": (old + timedelta(seconds=1)).isoformat(), "seq": 9000, "readings": {"LAeq": 80.0}})])
        assert gw.http is not None

        def metric_line() -> bool:
            text = urllib.request.urlopen(f"http://127.0.0.1:{gw.http.port}/metrics", timeout=5).read().decode()
            return 'enforcegw_readings_late_total{metric="LAeq"} 1.0' in text

        await wait_for(metric_line, 20, "the late reading on /metrics")
        assert count(db_url, "SELECT count(*) FROM readings WHERE seq = 9000") == 1  # stored all the same
    finally:
        pub.close()
        await gw.stop()
