"""Request and response models of the console API (the queue, the stream, review decisions, auditors' reads,
public disclosure): the OpenAPI document is generated from them, and handlers build their bodies through them so
the two never drift."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, create_model, field_validator

from api.errors import ApiError


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AlertOut(_Out):
    id: int
    clue_code: str
    source: Literal["sensor", "video", "manual"]
    kind: str
    category: str
    rule_id: str
    status: str
    device_id: str
    zone_id: str | None
    subject_code: str
    subject_name: str | None
    enforcement_item: str | None
    lon: float | None
    lat: float | None
    start_time: datetime
    peak_time: datetime
    end_time: datetime | None
    end_reason: str | None
    severity: str
    admissible: bool
    inadmissible_reasons: list[str]
    evidence_open_idx: int | None
    evidence_end_idx: int | None
    created_at: datetime
    updated_at: datetime
    detail: dict[str, Any]
    claimed_by_name: str | None = None  # who holds the alert in review while claim_expires_at runs
    claimed_by_token: int | None = None  # the holder's token id: "claimed by me" without comparing names
    claim_expires_at: datetime | None = None
    first_reviewer_token: int | None = None  # who confirmed or dismissed it (a legal reviewer must differ)
    first_reviewer_name: str | None = None
    first_reviewed_at: datetime | None = None
    legal_review_required: bool | None = None  # as configured for its item when it was confirmed
    legal_reviewer_name: str | None = None
    legal_reviewed_at: datetime | None = None
    legal_review_reason: str | None = None
    override_name: str | None = None  # the supervisor who let it be confirmed although inadmissible
    override_at: datetime | None = None
    override_reason: str | None = None
    override_reasons: list[str] | None = None  # the inadmissible reasons the override covers
    case_ready: bool = False  # approved, or confirmed where no legal review is needed


# A page cursor is the id the next page starts below, in decimal: any cursor the document calls valid is one the
# queue can use, so a client never holds one it must not send.
CURSOR = r"^[0-9]{1,18}$"
NO_NUL = r"^[^\x00]*$"  # PostgreSQL refuses a NUL in a text parameter, and no stored code holds one


class AlertQuery(BaseModel):
    """The queue's filters, as query parameters of GET /api/alerts (documented here; a value the queue cannot
    use is answered 400 naming the parameter)."""

    status: Literal["new", "in_review", "confirmed", "dismissed", "approved", "rejected"] | None = None
    kind: str | None = Field(default=None, pattern=NO_NUL)
    source: Literal["sensor", "video", "manual"] | None = None
    category: Literal["violation", "quality_exceedance"] | None = None
    subject: str | None = Field(default=None, pattern=NO_NUL, description="enforcement subject code")
    device: str | None = Field(default=None, pattern=NO_NUL)
    zone: str | None = Field(default=None, pattern=NO_NUL)
    queue: Literal["legal_review", "case_ready"] | None = Field(
        default=None, description="legal_review: confirmed alerts waiting for a legal review; case_ready: approved,"
        " or confirmed where none is needed")
    from_: datetime | None = Field(default=None, alias="from", description="start_time at or after (with offset)")
    to: datetime | None = Field(default=None, description="start_time before (with offset)")
    order: Literal["newest", "oldest"] = Field(default="newest", description="newest (id descending) or oldest "
                                               "first; a cursor continues in the order it was given with")
    cursor: str | None = Field(default=None, pattern=CURSOR, description="`next` of the previous page")
    limit: int = Field(default=50, ge=1, le=200)


class AlertPage(_Out):
    items: list[AlertOut]
    next: str | None  # opaque cursor of the next page; None on the last


class DeviceOut(_Out):
    id: str
    kind: str
    name: str
    lon: float | None
    lat: float | None
    inspection_object: str | None
    jurisdiction: str | None
    legal_review_ref: str | None
    technical_review_ref: str | None
    calibration_cert: str | None
    calibration_valid_until: datetime | None
    public_notice: str | None
    zone_ids: list[str]
    attrs: dict[str, Any]


class ZoneOut(_Out):
    id: str
    kind: str
    name: str
    subject_code: str | None


class SubjectOut(_Out):
    code: str
    name: str | None
    enforcement_item: str | None


class ChartOut(_Out):
    metric: str | None
    unit: str | None
    limit: float | None
    comparison: str | None
    points: list[tuple[datetime, float]]  # (time, value), oldest first


class InclusionProofOut(_Out):
    size: int
    root: str  # base64
    path: list[str]  # base64 hashes, leaf to root
    checkpoint: str  # the signed checkpoint note the proof is against


class EvidenceRefOut(_Out):
    index: int
    role: Literal["open", "end", "clip"]
    leaf_hash: str | None  # hex; None until the entry is checkpointed
    proof: InclusionProofOut | None
    pending: str | None = None  # why there is no proof yet


class MediaLink(_Out):
    sha256: str
    role: str
    mime: str
    size: int
    url: str


class ReviewOut(_Out):
    change_id: int
    time: datetime
    review: dict[str, Any]


class AlertDetailOut(_Out):
    alert: AlertOut
    review_status: str
    device: DeviceOut | None
    zone: ZoneOut | None
    subject: SubjectOut
    chart: ChartOut
    evidence: list[EvidenceRefOut]
    media: list[MediaLink]
    reviews: list[ReviewOut]


class AlertChangeOut(_Out):
    """One Server-Sent Event's data (`id:` is `id`, `event:` is `type`)."""

    id: int
    alert_id: int
    clue_code: str
    type: Literal["new", "update", "end", "review"]
    time: datetime
    alert: dict[str, Any]


class EvidenceEntryOut(_Out):
    index: int
    entry: str  # the entry's canonical bytes, base64
    leaf_hash: str | None  # hex
    proof: InclusionProofOut | None
    pending: str | None = None


class ConsistencyOut(_Out):
    first: int
    second: int
    proof: list[str]  # base64 hashes


class PublicDeviceOut(_Out):
    id: str
    kind: str
    name: str
    measures: list[str]  # metrics (sensors) or what it watches (cameras, drones)
    inspection_object: str | None
    lon: float | None
    lat: float | None
    since: datetime
    legal_review_ref: str | None
    technical_review_ref: str | None
    calibration_cert: str | None
    calibration_valid_until: datetime | None
    calibration_valid: bool
    public_notice: str | None


class PublicDevicesOut(_Out):
    devices: list[PublicDeviceOut]


# Free text of a decision goes into PostgreSQL text and jsonb, neither of which can hold a NUL character; a
# reason must also be written out, i.e. hold something besides spaces (ASCII whitespace: JSON Schema's and
# Python's ideas of Unicode whitespace differ, and the document and the check must agree).
TEXT = r"^[^\x00]*$"
WRITTEN = r"^[^\x00]*[^\x00\t\n\x0b\x0c\r ][^\x00]*$"


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=4000, pattern=TEXT)


class DismissIn(BaseModel):
    """The reason codes are configured (`api.review.dismiss_reasons`): `dismiss_in` makes the model that lists
    them, for the route and its document."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=64, description="A configured reason code (GET /api/review/reasons).")
    text: str | None = Field(default=None, max_length=4000, pattern=TEXT)


def dismiss_in(codes: Sequence[str]) -> type[DismissIn]:
    """DismissIn whose reason is one of `codes`."""
    reason = Literal[tuple(codes)]  # type: ignore[valid-type]
    return create_model("DismissIn", __base__=DismissIn, __doc__=DismissIn.__doc__,
                        reason=(reason, Field(description="A configured reason code (GET /api/review/reasons).")))


class LegalReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "if": {"properties": {"decision": {"const": "reject"}}},
        "then": {"required": ["reason"], "properties": {"reason": {"type": "string"}}}})
    decision: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=4000, pattern=WRITTEN, validate_default=True,
                               description="Why; required when rejecting.")

    @field_validator("reason")
    @classmethod
    def _reason(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None and info.data.get("decision") == "reject":
            raise ValueError("a rejection needs a written reason")
        return v


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=4000, pattern=WRITTEN,
                        description="Why the alert may be confirmed although inadmissible (it becomes evidence).")


class ReassignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token_id: int | None = Field(description="The reviewer token (operator or supervisor, active) to hand the claim"
                                             " to, or null to put the alert back in the queue.")


class ReasonOut(_Out):
    code: str
    zh: str
    en: str


class ReviewReasonsOut(_Out):
    """What the console's review screen is configured with."""

    dismiss_reasons: list[ReasonOut]  # in the order to offer them
    lease_s: float  # how long a claim holds


class ReviewDecisionOut(_Out):
    """What a review decision (claim, release, confirm, dismiss, legal review, override, reassign) left: the
    alert, the decision as recorded, its evidence entry and the change id it has on the stream."""

    alert: AlertOut
    review: dict[str, Any]
    evidence_index: int
    change_id: int


def error(status: int, code: str, message: str, field: str | None = None) -> ApiError:
    """A JSON error to raise from a handler (the server's middleware answers it)."""
    return ApiError(status, message, code=code, field=field)


def json_response(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(text=model.model_dump_json(), status=status, content_type="application/json")
