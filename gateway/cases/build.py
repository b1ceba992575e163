"""A case task from the store: the alert as the deciding transaction sees it, its device and zone, its
enforcement item, its review decisions and its evidence, with links signed to expire.

Runs inside the review decision's transaction (sync connection), before that decision's own `review` change is
recorded: the decision is passed in as `decision` and listed last.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from gateway.cases.links import LinkSigner
from gateway.cases.outbox import task_id_for
from gateway.cases.summary import summary_zh
from gateway.cases.task import (
    CaseTask,
    Checkpoint,
    Code,
    Device,
    Evidence,
    EvidenceEntry,
    Item,
    Media,
    Place,
    Review,
    Times,
    Violation,
    Zone,
)
from gateway.config import EnforcementConfig

CHECKPOINT_PATH = "/api/public/checkpoint"
# Taking and giving back a claim is the work of the queue, not a decision on the clue: not listed in a task.
_NOT_REVIEWS = ("claim", "release")


def _review(r: dict[str, Any]) -> Review:
    reviewer = r.get("reviewer") or {}
    note = r.get("reason") or r.get("note") or r.get("text")
    return Review(decision=str(r.get("decision")), outcome=r.get("outcome"), reviewer=str(reviewer.get("name")),
                  role=str(reviewer.get("role")),
                  time=datetime.fromisoformat(r["time"]), note=note, evidence_index=r.get("evidence_idx"))


def _entries(conn: psycopg.Connection, refs: list[tuple[str, int]]) -> tuple[list[EvidenceEntry], list[dict]]:
    if not refs:
        return [], []
    rows = dict(((idx, (bytes(h), bytes(e))) for idx, h, e in conn.execute(
        "SELECT idx, leaf_hash, entry FROM evidence_entries WHERE idx = ANY(%s)", ([i for _, i in refs],))))
    out, media = [], []
    for role, idx in refs:
        if idx not in rows:
            continue
        leaf, entry = rows[idx]
        out.append(EvidenceEntry(index=idx, role=role, leaf_hash=leaf.hex()))
        media.extend(json.loads(entry).get("media", []))
    return out, media


def build_task(conn: psycopg.Connection, alert: dict[str, Any], decision: dict[str, Any], *,
               enforcement: EnforcementConfig, links: LinkSigner, origin: str, tz: ZoneInfo,
               now: datetime | None = None) -> CaseTask:
    now = now or datetime.now(UTC)
    cur = conn.cursor(row_factory=dict_row)
    device = cur.execute("SELECT id, name, inspection_object, legal_review_ref, technical_review_ref,"
                         " calibration_cert, attrs FROM devices WHERE id = %s", (alert["device_id"],)).fetchone() or {}
    zone = cur.execute("SELECT id, name, spec FROM zones WHERE id = %s", (alert["zone_id"],)).fetchone() \
        if alert.get("zone_id") else None
    reviews = [r["payload"]["review"] for r in cur.execute(
        "SELECT payload FROM alert_changes WHERE alert_id = %s AND type = 'review' ORDER BY id", (alert["id"],))]
    reviews.append(decision)
    refs = [(role, alert[col]) for role, col in (("open", "evidence_open_idx"), ("end", "evidence_end_idx"))
            if alert.get(col) is not None]
    refs += [("review", r["evidence_idx"]) for r in reviews if r.get("decision") not in _NOT_REVIEWS
             and r.get("evidence_idx") is not None]
    entries, media_refs = _entries(conn, refs)
    cp = cur.execute("SELECT size, root FROM evidence_checkpoints ORDER BY size DESC LIMIT 1").fetchone()
    exp = links.expiry(now.timestamp())
    zone_attrs = (zone or {}).get("spec", {}).get("attributes", {}) if zone else {}
    dev_attrs = device.get("attrs") or {}
    address = zone_attrs.get("address") or dev_attrs.get("address")
    item_code = alert.get("enforcement_item")
    item_cfg = enforcement.items.get(item_code) if item_code else None
    place_text = address or (zone["name"] if zone else None) or f"{alert.get('lat')},{alert.get('lon')}"
    proof = dict(alert.get("detail") or {})
    return CaseTask(
        task_id=task_id_for(alert["clue_code"]), clue_code=alert["clue_code"], created_at=now,
        subject=Code(code=alert["subject_code"], name=alert.get("subject_name")),
        item=Item(code=item_code, name=item_cfg.name if item_cfg else None,
                  legal_basis=item_cfg.legal_basis if item_cfg else None) if item_code else None,
        violation=Violation(kind=alert["kind"], category=alert["category"], source=alert["source"],
                            rule_id=alert["rule_id"], severity=alert["severity"]),
        times=Times(start=alert["start_time"], peak=alert["peak_time"], end=alert.get("end_time")),
        place=Place(lon=alert.get("lon"), lat=alert.get("lat"),
                    zone=Zone(id=zone["id"], name=zone["name"]) if zone else None, address=address),
        device=Device(id=alert["device_id"], name=device.get("name"),
                      legal_review_ref=device.get("legal_review_ref"),
                      technical_review_ref=device.get("technical_review_ref"),
                      calibration_cert=device.get("calibration_cert")),
        inspection_object=device.get("inspection_object") or zone_attrs.get("inspection_object"),
        summary=summary_zh(kind=alert["kind"], start=alert["start_time"], end=alert.get("end_time"),
                           place=place_text, device=device.get("name") or alert["device_id"], proof=proof,
                           item_name=item_cfg.name if item_cfg else None, tz=tz),
        proof=proof,
        reviews=[_review(r) for r in reviews if r.get("decision") not in _NOT_REVIEWS],
        evidence=Evidence(
            entries=entries,
            media=[Media(sha256=m["sha256"], content_type=m.get("mime"), url=links.media(m["sha256"], exp))
                   for m in media_refs],
            checkpoint=Checkpoint(origin=origin, size=cp["size"],
                                  root_hash=base64.b64encode(bytes(cp["root"])).decode(),
                                  url=links.base_url.rstrip("/") + CHECKPOINT_PATH) if cp else None,
            bundle_url=links.bundle(alert["clue_code"], exp),
            links_expire=datetime.fromtimestamp(exp, UTC)),
    )
