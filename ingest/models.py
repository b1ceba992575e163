"""Records that ingest produces: what the store writes and the detectors read.

Plain frozen dataclasses rather than pydantic models: millions of them pass through the hot path and
validation has already happened in the payload parsers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Reading:
    """One measured value of one metric from one device at one time."""

    time: datetime
    device_id: str
    metric: str
    value: float
    seq: int | None = None
    received_at: datetime | None = None
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class Pose:
    """A drone (or dock) position and attitude sample.

    `lat`/`lon` are None when the device has no fix: DJI reports 0/0 for an aircraft in its dock and that
    must never be stored as a position in the Gulf of Guinea.
    Angles are degrees; yaw is clockwise from true north in -180..180 (DJI `attitude_head` convention).
    """

    time: datetime
    device_id: str
    lat: float | None = None
    lon: float | None = None
    alt_rel_m: float | None = None  # above take-off point
    alt_abs_m: float | None = None  # above the WGS84 ellipsoid (DJI `height`); MAVLink MSL is converted or noted
    yaw: float | None = None
    pitch: float | None = None
    roll: float | None = None
    gimbal_yaw: float | None = None
    gimbal_pitch: float | None = None
    gimbal_roll: float | None = None
    hfov_deg: float | None = None
    source: str = "generic"  # generic | dji_osd | dji_drc | mavlink | srt
    gateway_sn: str | None = None
    extra: dict = field(default_factory=dict)  # adapter-specific fields kept as JSON (mode_code, battery...)
    received_at: datetime | None = None

    @property
    def has_fix(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message we could not accept, kept with the precise reason so nothing is lost silently."""

    topic: str
    reason: str  # a short stable code, e.g. "invalid_json", used as the Prometheus label
    detail: str  # human-readable precision: which field, which value
    payload: bytes
    received_at: datetime | None = None


class PayloadError(ValueError):
    """Raised by payload parsers; `reason` is a stable code, the message says exactly what is wrong."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
