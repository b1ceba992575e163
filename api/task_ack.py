"""The receiver's acknowledgement of a task: `POST /api/tasks/{task_id}/ack` with its case or clue number.

No bearer token: the receiver proves itself with a Standard Webhooks signature under the secret configured for
its system, within the 5-minute tolerance. A forged, stale, contradicting or ambiguous acknowledgement is refused
and logged (and, as every state-changing request, written to the audit log); an accepted one is stored with the
delivery and appended to the evidence log.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import NoReturn

import structlog
from aiohttp import web
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field

from api.context import ApiContext, audit_note
from api.models import error, json_response
from api.routes import PUBLIC, RouteTable
from gateway.cases.acks import MAX_REF, ack_entry, record_ack
from gateway.cases.signing import VerificationError, verify

log = structlog.get_logger(__name__)
MAX_ACK_BYTES = 64 * 1024


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_id: str = Field(max_length=200, description="The task acknowledged (as in the path).")
    case_no: str = Field(min_length=1, max_length=MAX_REF, description="The receiver's case or clue number.")
    delivery_id: str | None = Field(default=None, max_length=200,
                                    description="The webhook-id of the delivery acknowledged.")


class AckOut(_Out):
    task_id: str
    system: str
    receiver_ref: str
    evidence_index: int | None


def register(table: RouteTable, ctx: ApiContext) -> None:
    async def ack(request: web.Request) -> web.Response:
        task_id = request.match_info["task_id"]
        audit_note(request, target=f"task:{task_id}")
        raw = await request.content.read(MAX_ACK_BYTES + 1)
        if len(raw) > MAX_ACK_BYTES:
            raise error(413, "too_large", "an acknowledgement is at most 64 KiB")
        return await asyncio.to_thread(_ack_sync, ctx, task_id, dict(request.headers), raw, request.remote)

    table.add("POST", "/api/tasks/{task_id}/ack", ack, roles=PUBLIC, request=AckIn, response=AckOut,
              changes_state=True,
              summary="The receiver's case number, signed (Standard Webhooks) with its system's secret; no token")


def _refuse(task_id: str, remote: str | None, status: int, code: str, message: str) -> NoReturn:
    log.warning("cases.ack_refused", task=task_id, code=code, reason=message, remote=remote)
    raise error(status, code, message)


def _ack_sync(ctx: ApiContext, task_id: str, headers: dict[str, str], raw: bytes, remote: str | None
              ) -> web.Response:
    gw = ctx.gateway
    if gw is None or gw.cases is None or ctx.sync_pool is None:
        raise error(503, "no_cases", "this gateway does not push case tasks")
    systems = {s.name: s for s in gw.cases.config.systems}
    with ctx.sync_pool.connection() as conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        deliveries = cur.execute(
            "SELECT d.id, d.system, d.webhook_id, d.state, d.receiver_ref, t.clue_code FROM case_deliveries d"
            " JOIN case_tasks t ON t.id = d.task_id WHERE t.task_id = %s ORDER BY d.id FOR UPDATE OF d",
            (task_id,)).fetchall()
        if not deliveries:
            _refuse(task_id, remote, 404, "not_found", f"no delivered task {task_id!r}")
        signers, last_error = [], "no delivery of this task goes to a configured system"
        for d in deliveries:
            system = systems.get(d["system"])
            if system is None:
                continue
            try:
                verify(system.secrets, headers, raw, datetime.now(UTC).timestamp())
            except VerificationError as exc:
                last_error = str(exc)
                continue
            signers.append(d)
        if not signers:
            _refuse(task_id, remote, 401, "bad_signature", f"the acknowledgement is not signed by a receiver of "
                    f"this task within the tolerance: {last_error}")
        try:
            body = AckIn.model_validate(json.loads(raw))
        except ValueError as exc:
            _refuse(task_id, remote, 422, "bad_ack", f"the acknowledgement is not {{task_id, case_no}}: {exc}"[:300])
        if body.task_id != task_id:
            _refuse(task_id, remote, 422, "bad_ack", "the acknowledgement names another task")
        if body.delivery_id is not None:
            signers = [d for d in signers if d["webhook_id"] == body.delivery_id]
            if not signers:
                _refuse(task_id, remote, 422, "bad_ack", "delivery_id is not a delivery this signer received")
        if len(signers) > 1:  # systems sharing a secret: the receiver must say which delivery it answers
            _refuse(task_id, remote, 422, "ambiguous_ack", "several deliveries of this task share the signing "
                    "secret; name the one acknowledged in delivery_id (its webhook-id)")
        signer = signers[0]
        if signer["state"] == "acknowledged" and signer["receiver_ref"] == body.case_no:
            idx = cur.execute("SELECT ack_evidence_idx FROM case_deliveries WHERE id = %s",
                              (signer["id"],)).fetchone()["ack_evidence_idx"]
            return json_response(AckOut(task_id=task_id, system=signer["system"], receiver_ref=body.case_no,
                                        evidence_index=idx))
        if signer["receiver_ref"] is not None and signer["receiver_ref"] != body.case_no:
            _refuse(task_id, remote, 409, "already_acknowledged",
                    f"{signer['system']} already gave case number {signer['receiver_ref']!r} for this task")
        entry = ack_entry(task_id=task_id, clue_code=signer["clue_code"], system=signer["system"],
                          webhook_id=signer["webhook_id"], receiver_ref=body.case_no, via="ack")
        idx = record_ack(conn, ctx.evidence, delivery_id=signer["id"], entry=entry)
    gw.cases.metrics.acks.labels("ack", "recorded").inc()
    log.info("cases.acknowledged", task=task_id, system=signer["system"], receiver_ref=body.case_no)
    return json_response(AckOut(task_id=task_id, system=signer["system"], receiver_ref=body.case_no,
                                evidence_index=idx))
