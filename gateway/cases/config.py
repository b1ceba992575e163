"""Where reviewed clues go: the case systems (案件系统) a task is pushed to, how each is matched, signed, retried
and mapped, and how long the evidence links in a task stay valid.

The minimal entry is `{name, url, secret}`; every other field has a default a receiver following Standard
Webhooks expects (15 s timeout, exponential back-off with full jitter, our own task schema).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.cases.mapping import MappingError, check_mapping
from gateway.cases.signing import WebhookSecret
from gateway.config_checks import check_timezone


def check_whsec(value: str) -> str:
    """A Standard Webhooks symmetric secret (`whsec_` + base64); the error says which part is wrong."""
    WebhookSecret.parse(value)
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MatchRule(_Section):
    """One rule: a task matches when every field given holds (fields left out match anything). A system's
    rules are alternatives: a task matching any one of them goes to the system."""

    subjects: list[str] = Field(default_factory=list, description="Enforcement subject codes (执法主体).")
    items: list[str] = Field(default_factory=list, description="Enforcement item codes (执法事项).")
    kinds: list[str] = Field(default_factory=list, description="Violation kinds, e.g. night_construction_noise.")
    sources: list[str] = Field(default_factory=list, description="Clue sources: sensor, video, manual.")

    @model_validator(mode="after")
    def _not_empty(self) -> MatchRule:
        if not (self.subjects or self.items or self.kinds or self.sources):
            raise ValueError("a match rule needs at least one of subjects, items, kinds, sources (a system with "
                             "no rules at all matches every task)")
        return self


class RetryPolicy(_Section):
    """Exponential back-off with full jitter: attempt n waits uniform(0, min(cap_s, base_s * 2**n))."""

    base_s: float = Field(default=2.0, gt=0, description="Back-off base: the first retry waits up to this long.")
    cap_s: float = Field(default=3600.0, gt=0, description="The longest wait between two attempts.")
    max_attempts: int = Field(default=20, ge=1, description="Attempts before the delivery is push_failed.")
    max_total_s: float = Field(default=3 * 86400.0, gt=0,
                               description="Time since the first attempt after which no more are made "
                               "(push_failed); Standard Webhooks' example schedule spans about 3 days.")
    max_retry_after_s: float = Field(default=3600.0, gt=0,
                                     description="A receiver's Retry-After is honoured up to this long.")


class CaseSystem(_Section):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$",
                      description="Stable name of the destination (part of each delivery's webhook-id).")
    url: str = Field(description="HTTPS (or HTTP) endpoint the tasks are POSTed to.")
    secret: list[str] = Field(min_length=1, description="Signing secret(s), `whsec_` + base64; while a secret "
                              "rotates list both: each request carries a signature per secret.")
    enabled: bool = Field(default=True, description="Send to this system (a 410 answer also disables it).")
    match: list[MatchRule] = Field(default_factory=list,
                                   description="Which tasks go here (any rule matching); none: every task.")
    timeout_s: float = Field(default=15.0, gt=0, le=300, description="Time allowed for one request.")
    retry: RetryPolicy = Field(default_factory=RetryPolicy, description="Back-off and retry budget.")
    mapping: dict[str, str] | None = Field(
        default=None, description="Receiver field name -> path in our task (dotted, e.g. `place.address`, "
        "`evidence.entries`); None sends our own task schema. Paths are checked at start.")
    ack_path: str | None = Field(
        default=None, description="Dotted path in the receiver's 2xx JSON body holding its case or clue number "
        "(e.g. `data.case_no`); None: the number may come later through POST /api/tasks/{id}/ack.")
    max_in_flight: int = Field(default=16, ge=1, le=256, description="Requests in flight to this system at once.")

    @property
    def secrets(self) -> list[WebhookSecret]:
        return [WebhookSecret.parse(s) for s in self.secret]

    @field_validator("secret", mode="before")
    @classmethod
    def _one_or_many(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v

    @field_validator("secret")
    @classmethod
    def _whsec(cls, v: list[str]) -> list[str]:
        return [check_whsec(s) for s in v]

    @field_validator("mapping")
    @classmethod
    def _paths(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        if v is not None:
            try:
                check_mapping(v)
            except MappingError as exc:
                raise ValueError(str(exc)) from None
        return v

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {v!r}")
        return v


class CasesConfig(_Section):
    systems: list[CaseSystem] = Field(default_factory=list, description="Case systems tasks are pushed to.")
    link_ttl_s: float = Field(default=7 * 86400.0, gt=0,
                              description="How long the evidence links in a task (media, bundle) stay valid.")
    public_base_url: str | None = Field(
        default=None, description="Base URL case systems reach this gateway at, for the links in a task (e.g. "
        "https://enforce.example.gov.cn); None: http://<api.listen>.")
    link_secret: str | None = Field(
        default=None, description="Key of the evidence links' HMAC (`whsec_` form); None: derived from the "
        "evidence signing key, so links survive a restart without another secret to keep.")
    lease_margin_s: float = Field(default=30.0, gt=0, le=3600,
                                  description="A request in flight holds its delivery for its timeout plus this; "
                                  "after that, a delivery whose sender died mid-request is sent again (same id).")
    timezone: str = Field(default="Asia/Shanghai", description="Time zone of the times in a task's summary.")
    poll_s: float = Field(default=1.0, gt=0, description="How often the delivery worker looks for due "
                          "deliveries when no new task woke it.")

    @field_validator("systems")
    @classmethod
    def _unique_names(cls, v: list[CaseSystem]) -> list[CaseSystem]:
        names = [s.name for s in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"case system names must be unique: {', '.join(dup)}")
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        return check_timezone(v)

    @field_validator("link_secret")
    @classmethod
    def _link_secret(cls, v: str | None) -> str | None:
        return None if v is None else check_whsec(v)
