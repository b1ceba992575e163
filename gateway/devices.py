"""The device registry: what a device file may say, and loading it into the store.

Each device carries the legal facts art. 41 of the Administrative Penalty Law asks for (legal and technical
review, calibration validity, public notice); the detectors read them to mark evidence admissible or not.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import psycopg
import rfc8785
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from detectors.sensors.admissibility import calibration_deadline
from detectors.sensors.background import ATTR as BACKGROUND_ATTR
from detectors.sensors.background import parse_background
from detectors.sensors.fume_method import parse_reference
from evidence.entry import Entry, Position
from evidence.log import EvidenceLog
from gateway.store.zones import load_all_zones
from geo.jurisdiction import resolve
from geo.registry import ZoneRegistry
from ingest.decode import DEVICE_ID_RE


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lon: float = Field(ge=-180, le=180, description="WGS84 longitude, degrees east.")
    lat: float = Field(ge=-90, le=90, description="WGS84 latitude, degrees north.")


class DeviceSpec(BaseModel):
    """One device as written in a registry file."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Device id as it appears in MQTT topics (DJI: the serial number).")
    kind: Literal["sensor", "camera", "drone", "dock"] = Field(description="What the device is.")
    name: str = Field(min_length=1, description="Human-readable name shown to operators and in disclosure.")
    location: Location | None = Field(default=None, description="Fixed position (drones may omit it).")
    inspection_object: str | None = Field(default=None, description="Inspection object (检查对象) it watches.")
    jurisdiction: str | None = Field(default=None, description="Enforcement subject code; geo fills it if absent.")
    legal_review_ref: str | None = Field(default=None, description="Reference of the legal review (法制审核).")
    technical_review_ref: str | None = Field(default=None, description="Reference of the technical review.")
    calibration_cert: str | None = Field(default=None, description="Metrological verification certificate id.")
    calibration_valid_until: date | datetime | None = Field(
        default=None, description="Last day (or instant) the calibration is valid."
    )
    public_notice: str | None = Field(default=None, description="Where the device location was published.")
    attrs: dict[str, Any] = Field(
        default_factory=dict, description="Extra attributes (model, metrics); those rule methods read are checked: "
        "`background_db` {value, ref, measured_on} (HJ 706 background), `exhaust_flow_m3h` with `cooking_heads` "
        "(GB 18483 reference exhaust volume).")

    @field_validator("id")
    @classmethod
    def _id_pattern(cls, v: str) -> str:
        if not DEVICE_ID_RE.fullmatch(v):
            raise ValueError("must be 1-64 of A-Z a-z 0-9 _ . : -")
        return v

    @field_validator("attrs")
    @classmethod
    def _method_attrs(cls, v: dict[str, Any]) -> dict[str, Any]:
        # The attrs rule methods read must be right on import: the engine would otherwise ignore them unseen.
        if BACKGROUND_ATTR in v:
            bg = parse_background(v[BACKGROUND_ATTR])
            # stored as JSON: the date a YAML file gives becomes its ISO text
            v = {**v, BACKGROUND_ATTR: {"value": bg.level_db, "ref": bg.ref, "measured_on":
                                        bg.measured_on.isoformat() if bg.measured_on else None}}
        parse_reference(v)
        return v

    def calibration_deadline(self) -> datetime | None:
        """The last instant the calibration is valid, read as the rule engine reads it (in the engine's default
        time zone: devices carry none)."""
        return calibration_deadline(self.calibration_valid_until)


@dataclass(frozen=True)
class RowError:
    index: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.index}: {self.field}: {self.message}"


@dataclass(frozen=True)
class Placement:
    """Where a device's fixed location falls: the jurisdiction geo resolved and every zone containing it."""

    jurisdiction: str | None
    status: str  # declared | assigned | unassigned | no_location
    zone_ids: list[str]
    note: str = ""


@dataclass
class ImportResult:
    loaded: list[str]
    errors: list[RowError]
    placements: dict[str, Placement] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)

    @property
    def unassigned(self) -> list[str]:
        return [d for d, p in self.placements.items() if p.status == "unassigned"]


def read_device_file(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    if isinstance(data, dict) and "devices" in data:
        data = data["devices"]
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of devices (or a mapping with 'devices:')")
    return data


def validate_devices(rows: list[Any]) -> tuple[list[DeviceSpec], list[RowError]]:
    """Split rows into valid specs and per-row, per-field errors; one bad row never hides the others."""
    valid: list[DeviceSpec] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        try:
            spec = DeviceSpec.model_validate(row)
        except ValidationError as exc:
            errors += [RowError(i, ".".join(map(str, e["loc"])) or "<row>", e["msg"]) for e in exc.errors()]
            continue
        if spec.id in seen:
            errors.append(RowError(i, "id", f"duplicate of row {seen[spec.id]}"))
            continue
        seen[spec.id] = i
        valid.append(spec)
    return valid, errors


_UPSERT = """
INSERT INTO devices (id, kind, name, lon, lat, inspection_object, jurisdiction, legal_review_ref,
                     technical_review_ref, calibration_cert, calibration_valid_until, public_notice, attrs,
                     jurisdiction_status, zone_ids, spec_sha256)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (id) DO UPDATE SET
    kind = EXCLUDED.kind, name = EXCLUDED.name, lon = EXCLUDED.lon, lat = EXCLUDED.lat,
    inspection_object = EXCLUDED.inspection_object, jurisdiction = EXCLUDED.jurisdiction,
    legal_review_ref = EXCLUDED.legal_review_ref, technical_review_ref = EXCLUDED.technical_review_ref,
    calibration_cert = EXCLUDED.calibration_cert, calibration_valid_until = EXCLUDED.calibration_valid_until,
    public_notice = EXCLUDED.public_notice, attrs = EXCLUDED.attrs, jurisdiction_status = EXCLUDED.jurisdiction_status,
    zone_ids = EXCLUDED.zone_ids, spec_sha256 = EXCLUDED.spec_sha256, updated_at = now()
"""


def place(spec: DeviceSpec, zones: ZoneRegistry) -> Placement:
    """Resolve the device's jurisdiction and containing zones from its fixed location."""
    if spec.location is None:
        return Placement(spec.jurisdiction, "declared" if spec.jurisdiction else "no_location", [])
    lon, lat = spec.location.lon, spec.location.lat
    zone_ids = [z.id for z in zones.zones_at(lon, lat)]
    if spec.jurisdiction:  # an explicit assignment wins; geo still says which zones it sits in
        return Placement(spec.jurisdiction, "declared", zone_ids)
    result = resolve(zones, lon, lat)
    if result.status == "unassigned":
        return Placement(None, "unassigned", zone_ids, result.reason)
    return Placement(result.subject_code, "assigned", zone_ids, result.reason if result.flagged else "")


def registry_record(s: DeviceSpec, p: Placement) -> dict[str, Any]:
    """The device as the registry holds it, JSON-ready: what a registry evidence entry fixes."""
    deadline = s.calibration_deadline()
    return {**s.model_dump(mode="json"), "calibration_valid_until": deadline.isoformat() if deadline else None,
            "jurisdiction": p.jurisdiction, "jurisdiction_status": p.status, "zone_ids": p.zone_ids}


def record_hash(record: dict[str, Any]) -> str:
    return hashlib.sha256(rfc8785.dumps(record)).hexdigest()


def upsert_devices(conn: psycopg.Connection, specs: list[DeviceSpec], placements: dict[str, Placement],
                   evidence: EvidenceLog | None = None) -> list[str]:
    """Upsert; with `evidence`, every created or changed device gets a `device_registry` entry in the same
    transaction. Returns the ids that were created or changed."""
    records = {s.id: registry_record(s, placements[s.id]) for s in specs}
    hashes = {d: record_hash(r) for d, r in records.items()}
    with conn.transaction(), conn.cursor() as cur:
        before = dict(cur.execute("SELECT id, spec_sha256 FROM devices WHERE id = ANY(%s)", (list(records),)))
        changed = [d for d in records if before.get(d, "") != hashes[d]]
        cur.executemany(_UPSERT, [_row(s, placements[s.id], hashes[s.id]) for s in specs])
        if evidence is not None and changed:
            evidence.append_with(conn, [_registry_entry(records[d], created=d not in before) for d in changed])
    return changed


def _registry_entry(record: dict[str, Any], *, created: bool) -> Entry:
    loc = record.get("location")
    return Entry(
        entry_type="device_registry", device_id=record["id"], time_source="gateway",
        position=Position(lon=loc["lon"], lat=loc["lat"], datum="WGS84") if loc else None,
        calibration_cert_id=record.get("calibration_cert"),
        payload={"change": "created" if created else "updated", "device": record},
    )


def _row(s: DeviceSpec, p: Placement, spec_hash: str) -> tuple:
    loc = s.location
    return (
        s.id, s.kind, s.name, loc.lon if loc else None, loc.lat if loc else None, s.inspection_object,
        p.jurisdiction, s.legal_review_ref, s.technical_review_ref, s.calibration_cert,
        s.calibration_deadline(), s.public_notice, json.dumps(s.attrs), p.status, p.zone_ids, spec_hash,
    )


def import_devices(conn: psycopg.Connection, rows: list[Any], zones: ZoneRegistry | None = None,
                   evidence: EvidenceLog | None = None) -> ImportResult:
    """Validate, place (jurisdiction from the stored zones unless given) and upsert; report bad rows.
    With `evidence`, each created or changed device is recorded as a `device_registry` evidence entry."""
    valid, errors = validate_devices(rows)
    if zones is None:
        zones = ZoneRegistry(load_all_zones(conn))
    placements = {s.id: place(s, zones) for s in valid}
    changed = upsert_devices(conn, valid, placements, evidence) if valid else []
    return ImportResult([s.id for s in valid], errors, placements, changed)
