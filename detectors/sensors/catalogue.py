"""The rule catalogue: which standard says what, as data.

`catalogue.yaml` (package data) is the source of truth. Each rule cites its standard, clause and scope,
names the reading metric it watches, how that metric is averaged over which window, in which period of
the day (in the device's time zone), the limit and how it is compared, and the zone kinds it applies to.
Rules whose limit is not confirmed against the standard's text (`confirmed: false`) ship `enabled: false`,
except those of a standard that replaced a repealed one (GB 12523-2025): they run, but their alerts are
inadmissible (`standard_unconfirmed`) until a bureau confirms them in config with a document reference
(`alerts.confirmations`, see `Catalogue.with_confirmations`). Each rule has its validity dates (`valid_from`,
`valid_until`, local days) and its category (emission or environmental quality);
tests/detectors/test_rules_catalogue.py holds the catalogue to the limits table it is built from.

The models here are for loading and validation only; the engine compiles them into plain objects
(`detectors.sensors.rules.CompiledRule`) so no pydantic object sits on the hot path.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from detectors.sensors.coverage import Method, check_coverage
from detectors.sensors.periods import DailyPeriod

Averaging = Literal["leq", "mean", "max", "min", "sample"]
WindowKind = Literal["sliding", "tumbling"]
Comparison = Literal["max", "min", "range"]
SeverityMode = Literal["difference", "ratio"]
# emission: what someone may emit (an exceedance is a violation clue); quality: what the environment should be
# (GB 3096, GB 3095, GB 3838): an exceedance is recorded and shown, never a violation clue.
Category = Literal["emission", "quality"]
# The national environmental quality standards: a rule citing one must be `category: quality`.
QUALITY_STANDARDS = ("GB 3096", "GB 3095", "GB 3838")


def standard_category(standard: str) -> Category:
    """quality for a rule citing GB 3096, GB 3095 or GB 3838 (any edition), else emission."""
    return "quality" if standard.startswith(QUALITY_STANDARDS) else "emission"


class PeriodSpec(BaseModel):
    """A daily period in local time; `hours` may cross midnight (`22:00-06:00`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Period name as the standard uses it: day, night or all.")
    hours: str = Field(description="Local clock range HH:MM-HH:MM, start inclusive, end exclusive; "
                       "`00:00-24:00` is the whole day; a start after the end crosses midnight.")
    weekdays: list[int] | None = Field(
        default=None,
        description="ISO weekdays (1=Monday .. 7=Sunday) on which the period starts; None = every day. "
        "A period crossing midnight belongs to the day it started on.",
    )

    @model_validator(mode="after")
    def _check(self) -> PeriodSpec:
        DailyPeriod.parse(self.name, self.hours, self.weekdays)
        return self


class Rule(BaseModel):
    """One limit of one standard, applied to one reading metric in one period for some zone kinds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Stable rule id, e.g. `gb12523_2011.night.laeq`; alerts and overrides use it.")
    enabled: bool = Field(description="Evaluated by default; false for unconfirmed or non-screening entries.")
    confirmed: bool = Field(description="The limit was checked against the standard's text (else it ships disabled).")
    standard: str = Field(description="Standard code and year, e.g. `GB 12523-2011`.")
    clause: str = Field(description="Clause or table of the standard that sets the limit.")
    scope: str = Field(description="What the limit applies to, as the standard words it.")
    source_metric: str = Field(description="The metric as the standard names it; `metric` is the readings' name.")
    metric: str = Field(description="Reading metric the rule watches (ingest metric name, e.g. LAeq, PM10).")
    unit: str = Field(description="Unit of the readings and of the limit.")
    averaging: Averaging = Field(
        description="leq = energy average 10*log10(mean(10^(L/10))) for sound levels; mean = arithmetic mean "
        "for concentrations; max/min = extreme in the window; sample = each reading on its own."
    )
    window_s: int = Field(ge=0, description="Averaging window in seconds; 0 only with averaging=sample.")
    window_kind: WindowKind = Field(
        description="sliding: re-evaluated at every reading over (t-window, t]; tumbling: fixed windows "
        "aligned to local clock time, evaluated when the window closes."
    )
    period: PeriodSpec = Field(description="Daily period in the device's local time when the rule applies.")
    comparison: Comparison = Field(
        description="max: exceeds when value > limit; min: when value < limit; range: outside [limit_low, limit]."
    )
    limit: float | None = Field(description="Limit value (upper bound for range); None only when disabled.")
    limit_low: float | None = Field(default=None, description="Lower bound, only for comparison=range.")
    source_limit: float | list[float] | None = Field(
        default=None,
        description="The value as the standard prints it when `limit` is derived from it "
        "(e.g. +15 dB above the zone night limit); None means it equals limit (or [limit_low, limit]).",
    )
    zone_kinds: list[str] = Field(
        default_factory=list,
        description="Zone kinds (e.g. noise_class_2, construction_site) the rule applies to; one alert per "
        "matching zone. Empty = applies to the device itself, with no zone.",
    )
    device_kinds: list[str] = Field(default_factory=list, description="Device kinds allowed; empty = any kind.")
    sustained_s: float = Field(default=0.0, ge=0, description="Exceed for at least this long before opening.")
    clear_margin: float = Field(
        default=0.0, ge=0, description="Hysteresis: clear only beyond limit by this margin (below limit-margin)."
    )
    clear_s: float = Field(default=0.0, ge=0, description="Hysteresis: stay clear this long before ending.")
    severity_mode: SeverityMode = Field(
        default="ratio", description="difference: value-limit (dB); ratio: value/limit (concentrations)."
    )
    severity_steps: list[float] = Field(
        default_factory=lambda: [1.0, 1.5, 2.0],
        min_length=3,
        max_length=3,
        description="Thresholds of excess for low, medium, high severity (ascending).",
    )
    allowed_exceedances_per_day: int | None = Field(
        default=None,
        ge=0,
        description="Standards that tolerate N exceeding windows per local day (DB13/2934: 2): only the "
        "N+1-th and later exceeding windows of a day count.",
    )
    # Coverage and method (detectors.sensors.coverage, background, fume_method): a window is evaluated only once
    # it holds the data the standard's averaging needs.
    min_span_s: float | None = Field(
        default=None, ge=0, description="Coverage: seconds of unbroken data the window must hold before it is "
        "evaluated; None = the whole window (window_s) for leq/mean/max/min, 0 for sample."
    )
    max_gap_s: float | None = Field(
        default=None, gt=0, description="Coverage: longest interval between readings still counted as unbroken "
        "data; a longer one is a gap, missing from the window. None = the larger of 60 s and 5 % of window_s."
    )
    min_count: int | None = Field(
        default=None, ge=1, description="Coverage: valid values the window needs where the standard counts them "
        "(GB 3095-2012: a 24-hour mean needs >= 20 hourly values), counted as units of count_unit_s with data."
    )
    count_unit_s: float | None = Field(
        default=None, gt=0, description="Coverage: length of the clock-aligned unit min_count counts (3600 for "
        "hourly values); required with min_count, tumbling windows only."
    )
    method: Method | None = Field(
        default=None, description="A standard's own evaluation method replacing plain averaging: `gb18483` = five "
        "consecutive 10-minute samples, quarter-of-maximum rule, >= 3 valid, converted to the reference exhaust "
        "volume (window_s must be 3000, averaging mean)."
    )
    background_correction: bool | None = Field(
        default=None, description="Correct the window value for the measured background (HJ 706-2014); None = on "
        "for the leq rules of GB 12523 and GB 22337, off elsewhere."
    )
    source: str = Field(description="Where the limit comes from (URLs of the standard's text or an excerpt of it).")
    note: str | None = Field(default=None, description="Caveats: what is unverified, how the window was chosen.")
    disabled_reason: str | None = Field(default=None, description="Why an otherwise confirmed rule is disabled.")
    edition: str | None = Field(
        default=None, description="Edition of the standard the limit is taken from (year, with the approval date "
        "where known), e.g. `2011 (approved 2011-12-05)`."
    )
    valid_from: date | None = Field(
        default=None, description="First local day (Asia/Shanghai) the standard is in force; None = long in force. "
        "Judged against the reading's time, not the wall clock."
    )
    valid_until: date | None = Field(
        default=None, description="Last local day (Asia/Shanghai) the standard is in force (inclusive); None = "
        "still in force. GB 12523-2011: 2025-12-31 (repealed by GB 12523-2025 on 2026-01-01)."
    )
    category: Category = Field(
        default="emission", description="emission: limit on what a source may emit (exceedance = violation "
        "clue); quality: environmental quality standard (exceedance = quality exceedance, never a violation)."
    )
    screening_only: bool = Field(
        default=False, description="The rule's result indicates but does not apply the standard's own method (e.g. "
        "per-sample pH where GB 8978 compares daily results): its alerts are raised but inadmissible "
        "(`screening_only`)."
    )
    permit_suppressed: bool = Field(
        default=False, description="A registered night-work permit of the rule's zone, valid at the reading's "
        "time, suppresses the rule (Noise Law art. 43; detectors.sensors.permits)."
    )
    confirmed_by: str | None = Field(
        default=None, description="Reference of the document a bureau relied on to confirm an unconfirmed rule "
        "(set from config `alerts.confirmations`, never shipped)."
    )

    @model_validator(mode="after")
    def _check(self) -> Rule:
        if standard_category(self.standard) == "quality" and self.category != "quality":
            raise ValueError(f"rule {self.id}: {self.standard} is a quality standard (category: quality)")
        if self.valid_from is not None and self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError(f"rule {self.id}: valid_until {self.valid_until} before valid_from {self.valid_from}")
        check_parameters(self.id, enabled=self.enabled, averaging=self.averaging, window_s=self.window_s,
                         comparison=self.comparison, limit=self.limit, limit_low=self.limit_low,
                         severity_steps=self.severity_steps)
        check_coverage(self.id, averaging=self.averaging, window_s=self.window_s, window_kind=self.window_kind,
                       min_count=self.min_count, count_unit_s=self.count_unit_s, method=self.method)
        return self


def check_parameters(rule_id: str, *, enabled: bool, averaging: str, window_s: float, comparison: str,
                     limit: float | None, limit_low: float | None, severity_steps: Sequence[float]) -> None:
    """What a rule's parameters must satisfy together, as the catalogue ships them and again once local
    overrides are applied (`rules.CompiledRule`); ValueError names the rule and the first violation."""
    if enabled and limit is None:
        raise ValueError(f"rule {rule_id}: enabled without a limit (an override that enables it must set one)")
    if comparison == "range" and limit is not None and limit_low is None:
        raise ValueError(f"rule {rule_id}: range comparison needs limit_low")
    if (window_s == 0) != (averaging == "sample"):
        raise ValueError(f"rule {rule_id}: window_s=0 goes with averaging=sample and only with it")
    if not ascending(severity_steps):
        raise ValueError(f"rule {rule_id}: severity_steps must ascend")


def in_force(rule: Rule, day: date) -> bool:
    """Whether the rule's standard is in force on local `day` (valid_from..valid_until, both inclusive)."""
    return (rule.valid_from is None or rule.valid_from <= day) and (rule.valid_until is None or day <= rule.valid_until)


def ascending(steps: Sequence[float]) -> bool:
    """Severity thresholds must ascend (low <= medium <= high)."""
    return sorted(steps) == list(steps)


class Catalogue:
    """An ordered, id-indexed set of rules."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._rules: dict[str, Rule] = {}
        for r in rules:
            if r.id in self._rules:
                raise ValueError(f"duplicate rule id {r.id}")
            self._rules[r.id] = r

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._rules.values())

    def __len__(self) -> int:
        return len(self._rules)

    def __getitem__(self, rule_id: str) -> Rule:
        return self._rules[rule_id]

    def get(self, rule_id: str) -> Rule | None:
        return self._rules.get(rule_id)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    @property
    def zone_kinds(self) -> frozenset[str]:
        """Every zone kind a rule names: zones of these kinds are what the rules apply to."""
        return frozenset(k for rule in self._rules.values() for k in rule.zone_kinds)

    def in_force(self, day: date) -> list[Rule]:
        """The rules whose standard is in force on local `day` (enabled or not)."""
        return [r for r in self._rules.values() if in_force(r, day)]

    def with_confirmations(self, confirmations: Mapping[str, str]) -> Catalogue:
        """This catalogue with each rule id of `confirmations` marked confirmed by that document reference (a
        bureau's decision that the shipped values are right); KeyError names an unknown rule id."""
        for rule_id in confirmations:
            if rule_id not in self._rules:
                raise KeyError(rule_id)
        return Catalogue(r.model_copy(update={"confirmed": True, "confirmed_by": confirmations[r.id]})
                         if r.id in confirmations else r for r in self._rules.values())

    def for_metric(self, metric: str) -> list[Rule]:
        return [r for r in self._rules.values() if r.metric == metric]

    @classmethod
    def from_yaml_text(cls, text: str) -> Catalogue:
        data = yaml.safe_load(text)
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
            raise ValueError("catalogue YAML must be a mapping with a `rules` list")
        return cls(Rule.model_validate(item) for item in data["rules"])

    @classmethod
    def from_file(cls, path: str | Path) -> Catalogue:
        return cls.from_yaml_text(Path(path).read_text(encoding="utf-8"))


def load_offline_catalogue() -> Catalogue:
    """`offline_catalogue.yaml`: limits on quantities no field sensor measures (purifier removal efficiency, odour
    concentration), kept with their sources for manual or laboratory results; the engine never binds them."""
    text = resources.files("detectors.sensors").joinpath("offline_catalogue.yaml").read_text(encoding="utf-8")
    return Catalogue.from_yaml_text(text)


def load_default_catalogue() -> Catalogue:
    """The catalogue shipped as `detectors/sensors/catalogue.yaml`."""
    text = resources.files("detectors.sensors").joinpath("catalogue.yaml").read_text(encoding="utf-8")
    return Catalogue.from_yaml_text(text)
