"""Pure naming rules for alerts: the violation kind of a rule and the readable clue code."""

from __future__ import annotations

from datetime import date

# Standard code prefix -> violation kind (also the MQTT topic leaf enf/alerts/{kind}).
_KIND_BY_STANDARD = [
    ("GB 12523", "construction_noise"),
    ("GB 3096", "environmental_noise"),
    ("GB 22337", "social_noise"),
    ("GB 3838", "water_quality"),
    ("GB 8978", "wastewater_discharge"),
    ("GB/T 31962", "wastewater_discharge"),
    ("GB 3095", "air_quality"),
]
_KIND_BY_METRIC = {"oil_fume": "oil_fume", "PM10": "dust", "PM10_net": "dust", "PM2.5": "dust", "TSP": "dust"}


def alert_kind(standard: str, metric: str) -> str:
    """The violation kind an operator filters on: construction_noise, oil_fume, dust, ..."""
    # The metric decides first: every catering standard (national or local) is an oil-fume case.
    if metric in _KIND_BY_METRIC:
        return _KIND_BY_METRIC[metric]
    for prefix, kind in _KIND_BY_STANDARD:
        if standard.startswith(prefix):
            return kind
    return "sensor_exceedance"


def clue_code(subject_code: str, day: date, seq: int) -> str:
    """Unique, readable clue code: enforcement subject + local date + daily sequence, e.g.
    440605-20261122-0007. Operators read it over the phone, so no check digits or UUIDs."""
    if seq < 1:
        raise ValueError("clue sequence starts at 1")
    subject = "".join(ch for ch in subject_code.upper() if ch.isalnum()) or "UNASSIGNED"
    return f"{subject}-{day:%Y%m%d}-{seq:04d}"
