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
