"""What an alert says beyond the clue core, per source: `alerts.detail` (JSONB) holds one of these, validated.

The core columns (clue code, kind, source, device, zone, subject and item, place, times, severity,
admissibility, review status, evidence) mean the same for every source; what proves the clue differs: a sensor
alert has a metric, an averaging window and a limit from a standard, a video alert a detected object and the
frame it was seen in, a manual one the person who reported it. `detail_for(source, data)` is the one gate into
the column.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Source = Literal["sensor", "video", "manual"]
SOURCES: tuple[str, ...] = ("sensor", "video", "manual")


class _Detail(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CoverageDetail(_Detail):
    """The data the window value rests on (detectors.sensors.coverage)."""

    span_s: float = Field(ge=0, description="Seconds of the window covered by unbroken data.")
    required_s: float = Field(ge=0, description="Seconds of data the rule needs before it evaluates a window.")
    window_s: float = Field(ge=0, description="Length of the averaging window in seconds.")
    gaps: int = Field(default=0, ge=0, description="Gaps inside the window (intervals longer than the rule's "
                      "max_gap_s); > 0 means the window was cut by a gap and the value rests on less than all of it.")
    count: int | None = Field(default=None, ge=0, description="Valid values counted (hourly values for a GB 3095 "
                              "24-hour mean, valid 10-minute samples for GB 18483); null when not counted.")
    required_count: int | None = Field(default=None, ge=1, description="Valid values the rule needs; null if none.")


class BackgroundDetail(_Detail):
    """The background correction (HJ 706-2014) behind the value."""

    status: Literal["none_applied", "not_required", "corrected", "not_evaluable"] = Field(
        description="none_applied: no background known, measured value used; not_required: difference > 10 dB; "
        "corrected: 3-10 dB, the table's correction subtracted; not_evaluable: < 3 dB, alert inadmissible.")
    measured_value: float = Field(description="The window value before correction.")
    background_db: float | None = Field(default=None, description="The measured background level, dB(A).")
    difference_db: int | None = Field(default=None, description="Measured minus background, rounded to whole dB "
                                      "(half to even) as the HJ 706-2014 table takes it.")
    correction_db: int | None = Field(default=None, description="dB subtracted (0, 1, 2 or 3); null when not "
                                      "evaluable or no background.")
    ref: str | None = Field(default=None, description="Report the background level was measured in.")
    measured_on: str | None = Field(default=None, description="Date the background was measured (YYYY-MM-DD).")


class ReferenceDetail(_Detail):
    """The conversion to reference conditions behind the value (GB 18483: C x Q / (n x 2000 m3/h))."""

    status: Literal["converted", "no_exhaust_reference"] = Field(
        description="converted: the value is C_ref; no_exhaust_reference: no Q and n in the registry, the value "
        "is the unconverted concentration and the alert is screening only.")
    measured_value: float = Field(description="The averaged concentration before conversion.")
    exhaust_flow_m3h: float | None = Field(default=None, description="Exhaust flow Q of the premises, m3/h.")
    cooking_heads: float | None = Field(default=None, description="Reference cooking heads n of the premises.")
    factor: float | None = Field(default=None, description="Q / (n x 2000 m3/h), applied to the concentration.")
    valid_samples: int | None = Field(default=None, ge=0, description="Valid 10-minute samples of the five "
                                      "(a sample below a quarter of the largest is invalid).")


class SensorDetail(_Detail):
    """A windowed reading compared with a standard's limit."""

    standard: str = Field(description="The standard cited, e.g. 'GB 12523-2011'.")
    clause: str = Field(description="The clause of the standard that sets the limit.")
    metric: str = Field(description="The metric the rule reads, e.g. 'LAeq'.")
    unit: str = Field(description="Unit of the metric and the limit, e.g. 'dB(A)'.")
    averaging: str = Field(description="How the window's value is formed, e.g. 'leq', 'mean', 'max'.")
    window_s: float = Field(ge=0, description="Length of the averaging window in seconds (0: per sample).")
    comparison: str | None = Field(
        default=None, description="How the value is compared with the limit ('gt', 'lt', ...); null on alerts "
                                  "stored before the comparison was recorded.")
    limit_value: float = Field(description="The limit in force for this device and zone.")
    limit_low: float | None = Field(default=None, description="Lower bound for range rules (e.g. pH), else null.")
    peak_value: float = Field(description="The highest window value while the alert was open.")
    last_value: float = Field(description="The window value at the latest evaluation.")
    coverage: CoverageDetail | None = Field(
        default=None, description="The data behind the latest value; null for per-sample rules and older alerts.")
    background: BackgroundDetail | None = Field(
        default=None, description="Background correction applied; null when the rule takes none.")
    reference: ReferenceDetail | None = Field(
        default=None, description="Conversion to reference conditions; null when the rule makes none.")
    screening_only: bool = Field(
        default=False, description="The value is not the quantity the limit applies to (e.g. an unconverted "
        "GB 18483 concentration): a screening clue, not evidence of an exceedance.")


class VideoDetail(_Detail):
    """An object a detector found in frames of a stream or in a photo."""

    detector: str = Field(description="Detector and model that found it, e.g. 'yolo11n@1.0'.")
    label: str = Field(description="The detected class, e.g. 'street_vendor'.")
    confidence: float = Field(ge=0, le=1, description="Highest detection confidence while the alert was open.")
    track_id: int | None = Field(default=None, description="Tracker id of the object within its stream, if tracked.")
    stream_id: str | None = Field(default=None, description="The video stream, or null for a photo.")
    frame_time: datetime | None = Field(default=None, description="Capture time of the best frame.")
    bbox: tuple[float, float, float, float] | None = Field(
        default=None, description="Best frame's box in pixels: x1, y1, x2, y2.")
    dwell_s: float | None = Field(default=None, ge=0, description="How long the object stayed in the zone.")
    object_kind: str | None = Field(default=None, description="Our kind of the subject (car, boat, smoke, ...).")
    camera: Literal["fixed", "drone"] | None = Field(default=None, description="How the stream films.")
    ground: tuple[float, float] | None = Field(
        default=None, description="WGS84 lon, lat of the best frame's anchor on the ground (drone frames).")
    plate: str | None = Field(default=None, description="The vehicle's plate, best reading over the track.")
    plate_kind: str | None = Field(default=None, description="ordinary, special, new_energy_small or _large.")
    plate_confidence: float | None = Field(default=None, ge=0, le=1, description="OCR confidence of that reading.")
    frames: int | None = Field(default=None, ge=0, description="Frames the alert has been active in.")
    frame_time_source: str | None = Field(default=None, description="Where the best frame's time came from.")
    clip_evidence_idx: int | None = Field(default=None, ge=0, description="The evidence entry holding the clip "
                                          "around the opening (original sealed, rendition beside it).")


class ManualDetail(_Detail):
    """A clue a person entered (a patrol officer, a complaint taken by phone)."""

    reported_by: str = Field(description="Who entered it (token name or officer id).")
    channel: str = Field(default="console", description="How it came in: 'console', 'hotline', 'patrol', ...")
    note: str = Field(default="", max_length=4000, description="What the person saw.")


_MODELS: dict[str, type[_Detail]] = {"sensor": SensorDetail, "video": VideoDetail, "manual": ManualDetail}


def detail_model(source: str) -> type[_Detail]:
    try:
        return _MODELS[source]
    except KeyError:
        raise ValueError(f"unknown alert source {source!r}; one of {list(SOURCES)}") from None


def detail_for(source: str, data: dict[str, Any]) -> dict[str, Any]:
    """Validate `data` as `source`'s detail and return it ready for the JSONB column."""
    return detail_model(source).model_validate(data).model_dump(mode="json")
