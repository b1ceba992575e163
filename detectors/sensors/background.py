"""Background correction of noise measurements (HJ 706-2014, for GB 12523 and GB 22337).

A measured level includes the background: where the source's own contribution is wanted, HJ 706-2014 corrects
the measured value by the difference between measured and background level:

| difference (dB)  | correction          |
|------------------|---------------------|
| > 10             | none                |
| 6 - 10           | -1                  |
| 4 - 5            | -2                  |
| 3                | -3                  |
| < 3              | not evaluable       |

The difference is first rounded to a whole decibel, as HJ 706-2014 applies its table to integer differences,
by GB/T 8170 (round half to even): 2.9 -> 3 (-3 dB), 2.5 -> 2 (not evaluable), 10.4 -> 10 (-1), 10.5 -> 10 (-1),
10.6 -> 11 (none). A difference of exactly 10 dB takes the table's -1 dB (the table covers 6-10 inclusive).

Where the background comes from: the device's attrs or, failing that, the properties of the zone the rule fires
in, both as `background_db: {value: 52.0, ref: "<measurement report>", measured_on: 2026-03-01}`: a background
level is itself a measurement, so it carries the reference of the report it was taken from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

ATTR = "background_db"
ZONE_ATTR = "zone_background_db"  # DeviceInfo.extra: {zone_id: background_db} from the zones' properties

# What an alert records about the correction (BackgroundApplied.status).
NONE_APPLIED = "none_applied"      # no background value known: the measured value is used as is
NOT_REQUIRED = "not_required"      # difference > 10 dB
CORRECTED = "corrected"            # 3-10 dB: the table's correction was applied
NOT_EVALUABLE = "not_evaluable"    # < 3 dB: the source cannot be told from the background


@dataclass(frozen=True, slots=True)
class Background:
    """A measured background level and where it comes from."""

    level_db: float
    ref: str
    measured_on: date | None = None


def parse_background(value: Any) -> Background:
    """A `background_db` attribute -> Background; ValueError says what is wrong."""
    if not isinstance(value, Mapping):
        raise ValueError("background_db must be a mapping {value, ref, measured_on}")
    unknown = set(value) - {"value", "ref", "measured_on"}
    if unknown:
        raise ValueError(f"background_db: unknown keys {sorted(unknown)}")
    level = value.get("value")
    if isinstance(level, bool) or not isinstance(level, int | float) or not 0 <= level <= 200:
        raise ValueError("background_db.value must be a level in dB between 0 and 200")
    ref = value.get("ref")
    if not isinstance(ref, str) or not ref.strip():
        raise ValueError("background_db.ref must name the report the background was measured in")
    on = value.get("measured_on")
    if on is not None and not isinstance(on, date):
        try:
            on = date.fromisoformat(str(on))
        except ValueError:
            raise ValueError("background_db.measured_on must be a date YYYY-MM-DD") from None
    return Background(float(level), ref.strip(), on)


def background_for(extra: Mapping[str, Any], zone_id: str | None) -> Background | None:
    """The device's own background, else its rule zone's; None when neither is known (or either is malformed:
    the registry validates device attrs on import, so a bad value here is not silently applied)."""
    raw = extra.get(ATTR)
    if raw is None and zone_id is not None:
        raw = (extra.get(ZONE_ATTR) or {}).get(zone_id)
    if raw is None:
        return None
    try:
        return parse_background(raw)
    except ValueError:
        return None


def rounded_difference(measured: float, background: float) -> int:
    """measured - background in whole dB, half to even (GB/T 8170); the float difference is first rounded to
    1e-6 so 57.3 - 54.8 counts as the 2.5 it is."""
    # Python's round() is half to even, exact for the .5 the 1e-6 rounding leaves representable.
    return round(round(measured - background, 6))


def correction_db(difference: int) -> int | None:
    """HJ 706-2014 table: the dB to subtract for a (rounded) difference; 0 above 10; None below 3."""
    if difference > 10:
        return 0
    if difference >= 6:
        return 1
    if difference >= 4:
        return 2
    if difference == 3:
        return 3
    return None


def correct(measured: float, background: float) -> tuple[float, str, int | None, int]:
    """(value to compare, status, correction in dB or None, rounded difference)."""
    diff = rounded_difference(measured, background)
    c = correction_db(diff)
    if c is None:
        return measured, NOT_EVALUABLE, None, diff
    if c == 0:
        return measured, NOT_REQUIRED, 0, diff
    return measured - c, CORRECTED, c, diff
