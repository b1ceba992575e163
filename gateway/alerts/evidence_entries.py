"""Pure builders of the evidence an alert fixes: the entry and the window's raw readings as a media file."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC

import rfc8785

from detectors.sensors.alerts import AlertEvent
from evidence.entry import Entry, Position
from gateway.alerts.clues import applied
from gateway.alerts.store import AlertContext
from ingest.models import Reading

WINDOW_ROLE = "window_readings"
WINDOW_MIME = "application/x-ndjson"


def window_ndjson(readings: Iterable[Reading]) -> bytes:
    """The readings behind a window value, one RFC 8785 JSON object per line in time order: an auditor
    recomputes the Leq or mean from this file and finds its sha256 in the entry."""
    rows = sorted(readings, key=lambda r: (r.time, r.metric, r.seq if r.seq is not None else -1))
    return b"".join(
        rfc8785.dumps({
            "time": r.time.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "device_id": r.device_id, "metric": r.metric, "value": r.value, "seq": r.seq,
        }) + b"\n"
        for r in rows
    )


def alert_entry(ev: AlertEvent, ctx: AlertContext, *, kind: str, clue: str, calibration_cert: str | None,
                refs: list[int]) -> Entry:
    event = "alert_open" if ev.type == "open" else "alert_end"
    position = Position(lat=ctx.lat, lon=ctx.lon, datum="WGS84") if ctx.lat is not None and ctx.lon is not None \
        else None
    return Entry(
        entry_type="evidence",
        device_id=ev.device_id,
        capture_time=ev.start if ev.type == "open" else (ev.end or ev.at),
        time_source="device",
        position=position,
        readings={"value": ev.value, "peak_value": ev.peak_value, "limit": ev.limit},
        calibration_cert_id=calibration_cert,
        refs=refs,
        payload={
            "event": event, "clue_code": clue, "kind": kind, "rule_id": ev.rule_id, "standard": ev.standard,
            "clause": ev.clause, "metric": ev.metric, "unit": ev.unit, "averaging": ev.averaging,
            "window_s": ev.window_s, "comparison": ev.comparison, "zone_id": ev.zone_id,
            "subject_code": ctx.subject_code, "start": ev.start.isoformat(),
            "end": ev.end.isoformat() if ev.end else None, "peak_time": ev.peak_time.isoformat(),
            "severity": ev.severity, "admissible": ev.admissible,
            "inadmissible_reasons": list(ev.inadmissible_reasons), "end_reason": ev.end_reason,
            **applied(ev),
        },
    )
