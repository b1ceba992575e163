"""The cloud-inspection task (云巡查任务) a reviewed clue becomes: the versioned document pushed to case systems.

The pydantic models are the schema: `task_schema()` is published at /api/schemas/task.json, and a receiver can
validate what it gets against it. Everything a case officer needs to open a case without asking us is here:
who is competent (subject, item, legal basis), what and where, the figures that prove it, who reviewed it,
and the evidence with what is needed to check it (leaf hashes, the checkpoint the proofs refer to, links).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_ID = "https://enforcegw.org/schemas/task/v1.json"
VERSION = 1


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Code(_Doc):
    code: str = Field(description="Code from the provincial factor library.")
    name: str | None = Field(description="Name, e.g. 南海区综合行政执法局.")


class Item(Code):
    legal_basis: str | None = Field(description="The provision the item rests on (法律依据).")


class Violation(_Doc):
    kind: str = Field(description="Violation kind, e.g. night_construction_noise.")
    category: str = Field(description="What the clue is: a violation, or an exceedance of a quality limit.")
    source: Literal["sensor", "video", "manual"] = Field(description="Where the clue came from.")
    rule_id: str = Field(description="The rule that raised it (sensor catalogue id, video rule, manual).")
    severity: str = Field(description="Severity the rule gave it.")


class Times(_Doc):
    start: datetime = Field(description="When the violation began (first reading or frame that showed it).")
    peak: datetime = Field(description="When it was strongest.")
    end: datetime | None = Field(description="When it ended (None: still going when reviewed).")


class Zone(_Doc):
    id: str = Field(description="Zone id.")
    name: str | None = Field(description="Zone name.")


class Place(_Doc):
    lon: float | None = Field(description="Longitude, WGS84.")
    lat: float | None = Field(description="Latitude, WGS84.")
    crs: Literal["WGS84"] = Field(default="WGS84", description="Coordinates are WGS84 (EPSG:4326).")
    zone: Zone | None = Field(description="The zone it happened in.")
    address: str | None = Field(description="Address text (the zone's or the device's).")


class Device(_Doc):
    id: str = Field(description="Device id.")
    name: str | None = Field(description="Device name.")
    legal_review_ref: str | None = Field(description="Reference of the device's legal review (法制审核).")
    technical_review_ref: str | None = Field(description="Reference of its technical review.")
    calibration_cert: str | None = Field(description="Calibration certificate number.")


class Review(_Doc):
    decision: str = Field(description="confirm, dismiss, legal_review, override, reassign ...")
    outcome: str | None = Field(default=None, description="A legal review's approve or reject.")
    reviewer: str = Field(description="Reviewer's name (token name).")
    role: str = Field(description="Reviewer's role.")
    time: datetime = Field(description="When the decision was made.")
    note: str | None = Field(default=None, description="Note, reason or written override text.")
    evidence_index: int | None = Field(description="The decision's own evidence entry.")


class EvidenceEntry(_Doc):
    index: int = Field(description="Leaf index in the evidence log.")
    role: str = Field(description="open, end, review ...")
    leaf_hash: str = Field(description="RFC 6962 leaf hash, hex.")


class Media(_Doc):
    sha256: str = Field(description="SHA-256 of the file, hex.")
    content_type: str | None = Field(description="Its media type.")
    url: str = Field(description="Download link, valid without a token until `expires`.")


class Checkpoint(_Doc):
    origin: str = Field(description="The log's origin line.")
    size: int = Field(description="Tree size the checkpoint commits to.")
    root_hash: str = Field(description="Root hash, base64 (as in the checkpoint's note body).")
    url: str = Field(description="Where the signed checkpoint is published.")


class Evidence(_Doc):
    entries: list[EvidenceEntry] = Field(description="The alert's evidence entries and its review decisions.")
    media: list[Media] = Field(description="Photos, snapshots and clips, with expiring links.")
    checkpoint: Checkpoint | None = Field(description="The checkpoint the bundle's inclusion proofs refer to.")
    bundle_url: str = Field(description="The evidence bundle (zip with proofs and verify.py), expiring link.")
    links_expire: datetime = Field(description="When the links above stop working.")


class CaseTask(_Doc):
    schema_: str = Field(default=SCHEMA_ID, alias="$schema", description="This document's JSON Schema.")
    version: Literal[1] = Field(default=VERSION, description="Task format version.")
    task_id: str = Field(description="Our task id: stable, one per clue.")
    clue_code: str = Field(description="Clue code (线索编号), unique in this gateway.")
    created_at: datetime = Field(description="When the task was made (the decision that made it ready).")
    subject: Code = Field(description="Enforcement subject (执法主体) competent for it.")
    item: Item | None = Field(description="Enforcement item (执法事项).")
    violation: Violation
    times: Times
    place: Place
    device: Device
    inspection_object: str | None = Field(description="Inspection object (检查对象) the device or zone names.")
    summary: str = Field(description="One paragraph in Chinese for the case officer.")
    proof: dict[str, Any] = Field(description="The figures that prove it (sensors: metric, averaging, limit, "
                                  "peak, standard and clause; video: detections).")
    reviews: list[Review] = Field(description="First review, legal review and overrides, in order.")
    evidence: Evidence

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def task_schema() -> dict[str, Any]:
    schema = CaseTask.model_json_schema(by_alias=True)
    schema["$id"] = SCHEMA_ID
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
