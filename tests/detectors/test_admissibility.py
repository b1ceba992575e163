"""The calibration deadline, the one reading of a certificate's "valid until" that the registry and the engine
share, and the expiry it decides."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from detectors.sensors.admissibility import CALIBRATION_EXPIRED, DeviceInfo, calibration_deadline, inadmissibility

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
END_OF_DAY = time(23, 59, 59, 999999)

DEADLINES = [
    # valid_until, tz, deadline
    (None, "Asia/Shanghai", None),
    (date(2026, 12, 31), "Asia/Shanghai", datetime.combine(date(2026, 12, 31), END_OF_DAY, SHANGHAI)),
    (date(2026, 3, 29), "Europe/Berlin", datetime.combine(date(2026, 3, 29), END_OF_DAY, BERLIN)),  # a DST day
    (datetime(2026, 6, 1, 12, 0), "Asia/Shanghai", datetime(2026, 6, 1, 12, 0, tzinfo=SHANGHAI)),  # naive: local
    (datetime(2026, 6, 1, 4, 0, tzinfo=UTC), "Asia/Shanghai", datetime(2026, 6, 1, 4, 0, tzinfo=UTC)),  # aware: kept
]


@pytest.mark.parametrize(("valid_until", "tz", "deadline"), DEADLINES)
def test_calibration_deadline(valid_until: date | datetime | None, tz: str, deadline: datetime | None) -> None:
    got = calibration_deadline(valid_until, tz)
    assert got == deadline
    if got is not None:
        assert got.tzinfo is not None
        assert got.utcoffset() == deadline.utcoffset()


def test_a_date_is_valid_through_its_local_day_and_expired_after_it() -> None:
    dev = DeviceInfo("d1", legal_review_ref="L", technical_review_ref="T", calibration_cert="C",
                     calibration_valid_until=date(2026, 12, 31))
    last_valid = datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    assert inadmissibility(dev, last_valid) == ()
    assert inadmissibility(dev, last_valid + timedelta(microseconds=1)) == (CALIBRATION_EXPIRED,)
    assert inadmissibility(dev, datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC)) == ()  # 23:59:59 in Shanghai
    assert inadmissibility(dev, datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == (CALIBRATION_EXPIRED,)


def test_an_instant_is_the_last_valid_one() -> None:
    until = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)
    dev = DeviceInfo("d1", legal_review_ref="L", technical_review_ref="T", calibration_cert="C",
                     calibration_valid_until=until)
    assert inadmissibility(dev, until) == ()
    assert inadmissibility(dev, until + timedelta(microseconds=1)) == (CALIBRATION_EXPIRED,)
