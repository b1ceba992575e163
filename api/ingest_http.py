"""HTTP ingest for devices that do not speak MQTT: `POST /api/ingest/readings` with a device token.

The body is exactly the payload the device would publish on `enf/sensor/{device_id}/reading` (no envelope, so a
dead letter keeps the bytes as they came), and the device is the token's: a device token's name is its device id.
A client may also name its device, in `?device_id=` or as a top-level `device_id` in the body (which the parser
ignores, as over MQTT); either must equal the token's, or the request is refused 403 naming both, with nothing
stored (the refusal is in the audit log).

The reading goes onto the ingest writer's queue as the MQTT message it would have been: that topic, those
bytes, QoS 0 (no broker waits for its acknowledgement) and a reply. So the parser, the limits, the registry
check, conflicts, duplicates, dead letters and `messages_received` are the MQTT path's own. The answer waits for
the writer's batch to commit:

    201 {"result": "stored"}     the readings are in `readings` when the response arrives
    200 {"result": "duplicate"}  the same seq (or, without seq, the same ts) with the same values is stored already
    409 conflict                 a different value is stored under the same key (a `conflict` dead letter)
    413 oversize                 the body is over `ingest.max_payload_bytes`
    422 <reason>                 any other refusal, e.g. invalid_json, wrong_type, unknown_device (the dead letter's
                                 reason as the error code, its detail as the message)
    503 + Retry-After            the writer's queue is full, the store is unreachable, or the writer has not
                                 answered within REPLY_TIMEOUT_S (the reading may still commit; a retry is safe)

An oversize body is not read to its end (a device cannot make the gateway buffer what it sends): its first
`max_payload_bytes` are dead-lettered as `oversize`, as MQTT dead-letters an oversize payload, with a detail that
says the bytes kept are the body's beginning.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import time
from typing import Literal, NoReturn

import aiohttp
from aiohttp import web
from pydantic import BaseModel, Field

from api.context import ApiContext, Principal, audit_note, principal
from api.errors import ApiError
from api.models import error, json_response
from api.routes import RouteTable
from gateway.ingest_writer import IngestWriter, Outcome
from ingest.decode import DEVICE_ID_RE
from ingest.mqtt import RawMessage
from ingest.payloads import SensorReadingPayload

# The topic the device would publish on: the sensor route of the router the gateway's parser uses.
SENSOR_TOPIC = "enf/sensor/{device_id}/reading"
REPLY_TIMEOUT_S = 10.0  # a batch commits in milliseconds; longer means the store is stuck
RETRY_AFTER_S = 1
_STATUS = {"oversize": 413, "conflict": 409}  # other dead-letter reasons: 422


class IngestAnswer(BaseModel):
    """A posted reading's fate once its batch has committed."""

    result: Literal["stored", "duplicate"] = Field(
        description="stored (201): committed now; duplicate (200): the same seq, or without seq the same ts, "
                    "with the same values was stored before, and nothing was stored twice")
    device_id: str = Field(description="The device the readings were stored for: the token's")
    topic: str = Field(description="The MQTT topic the same payload would have been published on")
    readings: int = Field(description="Readings (one per metric) the body carried")


def register(table: RouteTable, ctx: ApiContext) -> None:
    async def post_readings(request: web.Request) -> web.Response:
        who = principal(request)
        assert who is not None  # the route is for device tokens only
        device_id = _device(ctx, request, who)
        audit_note(request, target=f"device:{device_id}")
        writer = ctx.gateway.writer if ctx.gateway is not None else None
        if writer is None or not writer.healthy.is_set():
            raise _busy(ctx, "unavailable", "the gateway's store is unreachable; nothing was stored, retry later")
        received_at = time.time()
        body, refusal = await _read_body(request, ctx.settings.ingest.max_payload_bytes)
        if refusal is None:
            named = _named_device(body)
            if named is not None and named != device_id:
                _wrong_device(ctx, request, who, named)
        outcome = await _submit(ctx, writer, SENSOR_TOPIC.format(device_id=device_id), body, received_at, refusal)
        return _answer(ctx, request, device_id, outcome)

    table.add("POST", "/api/ingest/readings", post_readings, roles={"device"}, request=SensorReadingPayload,
              response=IngestAnswer,
              summary="A device's readings, as the payload of enf/sensor/{device_id}/reading, for the token's "
                      "device (an optional ?device_id= must equal it); answered after commit: 201 stored, "
                      "200 duplicate, 409/413/422 refused and dead-lettered, 503 with Retry-After when busy")


def _device(ctx: ApiContext, request: web.Request, who: Principal) -> str:
    named = request.query.get("device_id")
    if named is not None and named != who.name:
        _wrong_device(ctx, request, who, named)
    if DEVICE_ID_RE.fullmatch(who.name) is None:
        audit_note(request, result="refused_not_a_device_id")
        raise error(403, "not_a_device_id", f"this token's name {who.name!r} is not a device id "
                    "([A-Za-z0-9_.:-]{1,64}); create the device's token with its id as the name")
    return who.name


def _wrong_device(ctx: ApiContext, request: web.Request, who: Principal, named: object) -> NoReturn:
    ctx.metrics.http_ingest.labels("wrong_device").inc()
    audit_note(request, target=f"device:{named}", result="refused_wrong_device")
    raise error(403, "wrong_device", f"this token is device {who.name!r}'s; it may not post readings for "
                f"device {named!r}")


def _named_device(body: bytes) -> object:
    """The body's top-level `device_id`, if it is a JSON object that has one. Anything else about the body is
    the parser's to judge: a body that is not a JSON object names no device here and is dead-lettered."""
    if b'"device_id"' not in body:
        return None
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return doc.get("device_id") if isinstance(doc, dict) else None


async def _read_body(request: web.Request, limit: int) -> tuple[bytes, tuple[str, str] | None]:
    """The body, or its first `limit` bytes and an oversize refusal when it is longer."""
    declared = request.content_length
    try:
        if declared is not None and declared > limit:
            head = await _read_at_most(request.content, limit)
            return head, ("oversize", f"payload is {declared} bytes, limit is {limit} (HTTP body, not read "
                                      f"past its first {len(head)} bytes, which are kept here)")
        data = await _read_at_most(request.content, limit + 1)
    except (aiohttp.ClientError, ConnectionError):
        raise error(400, "incomplete_body", "the request body ended before its declared length") from None
    if len(data) > limit:
        return data[:limit], ("oversize", f"payload is over {limit} bytes, limit is {limit} (HTTP body without "
                                          f"Content-Length, not read past its first {limit} bytes, kept here)")
    return data, None


async def _read_at_most(stream: aiohttp.StreamReader, n: int) -> bytes:
    parts: list[bytes] = []
    got = 0
    while got < n:
        chunk = await stream.read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


async def _submit(ctx: ApiContext, writer: IngestWriter, topic: str, body: bytes, received_at: float,
                  refusal: tuple[str, str] | None) -> Outcome:
    """Queue the message the device would have published, and wait for its batch to commit."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[Outcome] = loop.create_future()

    def settle(outcome: Outcome) -> None:
        if not answer.done():  # the request may have timed out meanwhile
            answer.set_result(outcome)

    def reply(outcome: object) -> None:  # called in the writer's thread
        # RuntimeError: the loop closed (the server stopped) before the batch committed; nobody waits any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, outcome)

    try:
        writer.submit(RawMessage(topic, body, 0, 0, received_at, reply=reply, refusal=refusal))
    except queue.Full:
        raise _busy(ctx, "queue_full", "the gateway's ingest queue is full; nothing was stored, retry later") \
            from None
    try:
        return await asyncio.wait_for(answer, REPLY_TIMEOUT_S)
    except TimeoutError:
        raise _busy(ctx, "timeout", f"the gateway has not committed the reading within {REPLY_TIMEOUT_S:g} s; "
                    "it may still be stored. Retrying the same body is safe: a repeat is answered as a "
                    "duplicate and not stored twice") from None


def _busy(ctx: ApiContext, result: str, message: str) -> ApiError:
    ctx.metrics.http_ingest.labels(result).inc()
    return ApiError(503, message, code=result, headers={"Retry-After": str(RETRY_AFTER_S)})


def _answer(ctx: ApiContext, request: web.Request, device_id: str, outcome: Outcome) -> web.Response:
    if outcome.result == "dead_letter":
        ctx.metrics.http_ingest.labels("dead_letter").inc()
        audit_note(request, result=f"dead_letter:{outcome.reason}")
        raise error(_STATUS.get(outcome.reason, 422), outcome.reason, outcome.detail)
    ctx.metrics.http_ingest.labels(outcome.result).inc()
    audit_note(request, result=outcome.result)
    answer = IngestAnswer(result=outcome.result, device_id=device_id,
                          topic=SENSOR_TOPIC.format(device_id=device_id), readings=outcome.rows)
    return json_response(answer, status=201 if outcome.result == "stored" else 200)
