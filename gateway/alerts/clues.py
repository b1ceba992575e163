"""The source-neutral core of an alert (`Clue`), and how a sensor rule event becomes one.

A video detection or a manual report becomes the same `Clue` with its own detail (gateway/alerts/detail.py);
the store writes clues, never engine events, so every source lands in the same rows.

`category`: an exceedance of an environmental quality standard (GB 3096, GB 3095, GB 3838: what the environment
should be, not what anyone may emit) is a `quality_exceedance`, stored and shown but never a violation clue: the
store refuses to confirm one into a case (migration 0080).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from detectors.sensors.alerts import AlertEvent
from detectors.sensors.catalogue import Category, standard_category
from gateway.alerts.detail import detail_for
from gateway.alerts.naming import alert_kind


@dataclass(frozen=True, slots=True)
class Clue:
    """One state of an alert as its source sees it; `source_key` names the alert within its source."""

    source: str  # sensor | video | manual
    source_key: str
    kind: str
    rule_id: str
    device_id: str
    zone_id: str | None
    start: datetime
    peak_time: datetime
    end: datetime | None
    severity: str
    admissible: bool
    inadmissible_reasons: tuple[str, ...]
    detail: dict[str, Any]
    category: str = "violation"  # violation | quality_exceedance


CLUE_CATEGORY = {"emission": "violation", "quality": "quality_exceedance"}


def applied(ev: AlertEvent) -> dict[str, Any]:
    """What the value rests on and how it was corrected (coverage, background, reference), as detail fields;
    only those the event has, so alerts of rules without them keep their detail unchanged."""
    out: dict[str, Any] = {k: asdict(v) for k, v in (("coverage", ev.coverage), ("background", ev.background),
                                                    ("reference", ev.reference)) if v is not None}
    if ev.screening_only:
        out["screening_only"] = True
    return out


def sensor_clue(ev: AlertEvent, rule_category: Category | None = None) -> Clue:
    """The clue of a rule event; `rule_category` is the rule's catalogue category (else judged by its standard)."""
    detail = detail_for("sensor", {
        "standard": ev.standard, "clause": ev.clause, "metric": ev.metric, "unit": ev.unit,
        "averaging": ev.averaging, "window_s": ev.window_s, "comparison": ev.comparison, "limit_value": ev.limit,
        "limit_low": ev.limit_low, "peak_value": ev.peak_value, "last_value": ev.value,
        **applied(ev),
    })
    return Clue("sensor", ev.alert_id, alert_kind(ev.standard, ev.metric), ev.rule_id, ev.device_id, ev.zone_id,
                ev.start, ev.peak_time, ev.end or ev.at if ev.type == "end" else None, ev.severity, ev.admissible,
                tuple(ev.inadmissible_reasons), detail,
                CLUE_CATEGORY[rule_category or standard_category(ev.standard)])
