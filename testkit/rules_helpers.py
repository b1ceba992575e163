"""Shared builders for the detectors tests (imported by the test modules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from detectors.sensors.admissibility import DeviceInfo, ZoneRef
from detectors.sensors.catalogue import Catalogue, Rule
from ingest.models import Reading

T0 = datetime(2025, 3, 3, 4, 0, tzinfo=UTC)  # 12:00 Asia/Shanghai, a Monday


def rule(**kw) -> Rule:
    """A synthetic rule. `min_span_s=0` unless given: the engine-mechanics tests (runs, hysteresis, periods)
    evaluate from the first reading; the coverage a real rule needs is tested in test_rules_coverage.py."""
    base = dict(
        id="test.max", enabled=True, confirmed=True, standard="TEST 1-2025", clause="Table 1", scope="test",
        source_metric="x", metric="x", unit="u", averaging="sample", window_s=0, window_kind="sliding",
        period={"name": "all", "hours": "00:00-24:00"}, comparison="max", limit=10.0, zone_kinds=[],
        sustained_s=10.0, clear_margin=2.0, clear_s=5.0, source="test", min_span_s=0,
    )
    base.update(kw)
    return Rule.model_validate(base)


def catalogue(*rules: Rule) -> Catalogue:
    return Catalogue(rules or [rule()])


def good_device(device_id: str = "d1", zones: tuple[ZoneRef, ...] = (), kind: str = "sensor") -> DeviceInfo:
    return DeviceInfo(device_id, kind, zones, legal_review_ref="LR-2025-01", technical_review_ref="TR-2025-01",
                      calibration_cert="CAL-1", calibration_valid_until=datetime(2030, 1, 1, tzinfo=UTC))


def reading(s: float, value: float, device: str = "d1", metric: str = "x", seq: int | None = None,
            t0: datetime = T0) -> Reading:
    return Reading(t0 + timedelta(seconds=s), device, metric, float(value), seq)


def series(values: list[float], device: str = "d1", metric: str = "x", step: float = 1.0, start: float = 0.0,
           t0: datetime = T0) -> list[Reading]:
    return [reading(start + i * step, v, device, metric, None, t0) for i, v in enumerate(values)]
