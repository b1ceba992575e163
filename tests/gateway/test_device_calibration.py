"""The device registry reads a certificate's "valid until" exactly as the rule engine does: what it stores is the
deadline the engine judges readings against."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from detectors.sensors.admissibility import calibration_deadline
from detectors.sensors.periods import DEFAULT_TZ
from gateway.devices import DeviceSpec


@pytest.mark.parametrize(
    "valid_until",
    [None, date(2026, 12, 31), datetime(2026, 6, 1, 12, 0), datetime(2026, 6, 1, 4, 0, tzinfo=UTC)],
)
def test_registry_deadline_is_the_engines(valid_until: date | datetime | None) -> None:
    spec = DeviceSpec(id="noise-01", kind="sensor", name="Site A noise", calibration_valid_until=valid_until)
    got = spec.calibration_deadline()
    assert got == calibration_deadline(valid_until, DEFAULT_TZ)
    assert got is None or got.tzinfo is not None  # a naive instant would be read in the database session's zone
