"""An alert's category comes from its rule: a local quality standard a bureau adds to its catalogue (not one of the
national ones the store recognises by name) still makes quality exceedances, never violation clues."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from detectors.sensors.catalogue import Catalogue
from detectors.sensors.engine import RuleEngine
from gateway.alerts.service import AlertService
from gateway.alerts.sinks import SinkFanout
from gateway.metrics import Metrics
from gateway.zone_service import ZoneService
from ingest.models import Reading
from testkit.alert_scenes import LEGAL, NOISE, night_base, setup_site
from testkit.rules_helpers import rule

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("standard", "category", "expected"), [
    ("DB44/9999-2026 local ambient noise", "quality", "quality_exceedance"),
    ("DB44/9998-2026 local emission noise", "emission", "violation"),
])
def test_category_follows_the_rule(db_url: str, standard: str, category: str, expected: str) -> None:
    setup_site(db_url, {**NOISE, **LEGAL})
    zones = ZoneService(db_url)
    zones.reload()
    local = rule(id="local.noise", standard=standard, category=category, source_metric="LAeq", metric="LAeq",
                 unit="dB(A)", limit=50.0, sustained_s=0.0)
    sinks = SinkFanout([])
    service = AlertService(db_url, RuleEngine(Catalogue([local])), zones.registry, None, sinks, Metrics())
    service.start()
    try:
        t0 = night_base()
        service.on_stored([Reading(t0 + timedelta(seconds=i), NOISE["id"], "LAeq", 70.0, i) for i in range(5)], [])
        service._in.join()
    finally:
        service.stop()
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT rule_id, category FROM alerts").fetchall()
    assert rows == [("local.noise", expected)]
