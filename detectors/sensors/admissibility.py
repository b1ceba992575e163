"""Devices as the rule engine sees them, and whether their readings may serve as evidence (art. 41).

Administrative Penalty Law art. 41: electronic monitoring devices need legal and technical review, and a
measuring device needs valid metrological verification; expired devices must not be used. The engine
still evaluates every reading (an operator should see the problem) but flags each alert event with
`admissible=False` and the reasons, so it cannot be confirmed into a case without a recorded override.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from detectors.sensors.periods import DEFAULT_TZ
from detectors.sensors.permits import NightWorkPermit

NO_LEGAL_REVIEW = "no_legal_review"
NO_TECHNICAL_REVIEW = "no_technical_review"
NO_CALIBRATION = "no_calibration"
CALIBRATION_EXPIRED = "calibration_expired"
LOCATION_NOT_PUBLISHED = "location_not_published"
# Not about the device: the rule's standard has not been confirmed by the bureau (detectors.sensors.validity).
STANDARD_UNCONFIRMED = "standard_unconfirmed"
# Not about the device either: the method could not give the quantity the limit applies to.
BACKGROUND_NOT_EVALUABLE = "background_not_evaluable"  # measured - background < 3 dB (HJ 706-2014)
SCREENING_ONLY = "screening_only"  # the rule indicates, it does not apply the standard's method
NO_EXHAUST_REFERENCE = "no_exhaust_reference"  # GB 18483 without exhaust flow and cooking heads: screening only


@dataclass(frozen=True, slots=True)
class ZoneRef:
    """A zone the device sits in: its id and its kind (e.g. `noise_class_2`, `construction_site`)."""

    id: str
    kind: str


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What the engine needs about one device; the gateway builds it from its devices and zones tables.

    `calibration_valid_until`: see `calibration_deadline` (a `date` is valid through that local day in `tz`).
    `location_published` None = not tracked by the caller (not flagged); False = flagged.
    """

    id: str
    kind: str = "sensor"
    zones: tuple[ZoneRef, ...] = ()
    tz: str = DEFAULT_TZ
    legal_review_ref: str | None = None
    technical_review_ref: str | None = None
    calibration_cert: str | None = None
    calibration_valid_until: datetime | date | None = None
    location_published: bool | None = None
    extra: dict = field(default_factory=dict, compare=False)
    # Night-work permits of the device's zones (Noise Law art. 43): they suppress `permit_suppressed` rules.
    permits: tuple[NightWorkPermit, ...] = ()


def calibration_deadline(valid_until: date | datetime | None, tz: str = DEFAULT_TZ) -> datetime | None:
    """The last instant (tz-aware) at which a calibration is valid; readings after it are not admissible.

    A certificate valid "until 2026-12-31" is valid through that whole local day: a `date` gives the end of that
    day in `tz` (its last microsecond); a naive `datetime` is read as local time in `tz`; an aware one is kept.
    The device registry stores this instant and the engine judges readings against it, so both read a
    certificate the same way.
    """
    if valid_until is None:
        return None
    if isinstance(valid_until, datetime):
        return valid_until if valid_until.tzinfo is not None else valid_until.replace(tzinfo=ZoneInfo(tz))
    return datetime.combine(valid_until, time.max, tzinfo=ZoneInfo(tz))


def inadmissibility(device: DeviceInfo, last: datetime) -> tuple[str, ...]:
    """Reasons why readings taken up to `last` (the latest reading of an event) cannot be evidence; ()
    when admissible. Calibration is judged at the reading's time, not at wall-clock time."""
    reasons: list[str] = []
    if not device.legal_review_ref:
        reasons.append(NO_LEGAL_REVIEW)
    if not device.technical_review_ref:
        reasons.append(NO_TECHNICAL_REVIEW)
    deadline = calibration_deadline(device.calibration_valid_until, device.tz)
    if not device.calibration_cert or deadline is None:
        reasons.append(NO_CALIBRATION)
    elif last > deadline:
        reasons.append(CALIBRATION_EXPIRED)
    if device.location_published is False:
        reasons.append(LOCATION_NOT_PUBLISHED)
    return tuple(reasons)
