"""Auditors' reads of the evidence log: one entry with its inclusion proof, a consistency proof between two
checkpoints, an alert's offline-verifiable bundle (the same zip as `enforcegw evidence export --alert`: its open
and end entries and every review decision on it), and the originals (`/api/media/{sha256}`)."""

from __future__ import annotations

import asyncio
import base64
import re
import shutil
import tempfile
from pathlib import Path

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from api.alerts_read import proof_out
from api.context import ApiContext, principal
from api.errors import parse_query
from api.models import ConsistencyOut, EvidenceEntryOut, error, json_response
from api.routes import SEALED_READERS, RouteTable
from evidence.bundle import export_bundle
from evidence.log import EvidenceLog, NotCheckpointed
from gateway.commands.evidence import AlertEvidenceMismatch, AlertNotFound, alert_entry_indexes

AUDITORS = frozenset({"auditor", "supervisor"})
MEDIA_READERS = frozenset({"operator", "auditor", "supervisor"})
# Reviewers check an alert's entries too: the console verifies them in the browser.
ENTRY_READERS = MEDIA_READERS
_SHA256 = re.compile(r"[0-9a-f]{64}")


MAX_INDEX = 2**62  # beyond any log; keeps a fuzzer's 20-digit index an honest 404, not an overflow


class EntryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=0, le=MAX_INDEX, description="Leaf index of the entry.")
    size: int | None = Field(default=None, ge=1, le=MAX_INDEX,
                             description="Prove against the checkpoint of this tree size (default: the newest).")


class ConsistencyQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first: int = Field(ge=0, le=MAX_INDEX, description="The older checkpoint's tree size.")
    second: int = Field(ge=0, le=MAX_INDEX, description="The newer checkpoint's tree size (>= first).")


class BundleQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alert: str = Field(min_length=1, max_length=200, description="The alert's clue code (or numeric id).")


class MediaQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="SHA-256 of the original, hex.")


def _log(ctx: ApiContext) -> EvidenceLog:
    if ctx.evidence is None:
        raise error(503, "no_evidence_log", "this process has no evidence log")
    return ctx.evidence


def _entry(log: EvidenceLog, index: int, size: int | None) -> EvidenceEntryOut:
    try:
        data = log.entry(index)
    except LookupError as exc:
        raise error(404, "not_found", f"no evidence entry {index}") from exc
    try:
        proof = log.prove(index, size)
    except NotCheckpointed as exc:
        if size is not None:
            raise error(404, "no_checkpoint", str(exc), "size") from exc
        return EvidenceEntryOut(index=index, entry=base64.b64encode(data).decode(), leaf_hash=None, proof=None,
                                pending=str(exc))
    return EvidenceEntryOut(index=index, entry=base64.b64encode(data).decode(), leaf_hash=proof.leaf_hash.hex(),
                            proof=proof_out(proof))


def register(table: RouteTable, ctx: ApiContext) -> None:
    async def entry(request: web.Request) -> web.Response:
        q = parse_query(request, EntryQuery)
        return json_response(await asyncio.to_thread(_entry, _log(ctx), q.index, q.size))

    async def consistency(request: web.Request) -> web.Response:
        q = parse_query(request, ConsistencyQuery)
        first, second = q.first, q.second
        if first > second:
            raise error(400, "bad_range", "first must not exceed second", "first")
        try:
            proof = await asyncio.to_thread(_log(ctx).consistency, first, second)
        except NotCheckpointed as exc:
            raise error(404, "no_checkpoint", str(exc)) from exc
        return json_response(ConsistencyOut(first=first, second=second,
                                            proof=[base64.b64encode(h).decode() for h in proof]))

    async def bundle(request: web.Request) -> web.StreamResponse:
        return await send_bundle(ctx, request, parse_query(request, BundleQuery).alert)

    async def media(request: web.Request) -> web.StreamResponse:
        who = principal(request)
        return await send_media(ctx, parse_query(request, MediaQuery).sha256,
                                sealed_ok=who is not None and who.role in SEALED_READERS)

    table.add("GET", "/api/evidence/entries/{index}", entry, roles=ENTRY_READERS, request=EntryQuery,
              response=EvidenceEntryOut,
              summary="An evidence entry (bytes, leaf hash) with its inclusion proof against ?size= or the newest")
    table.add("GET", "/api/evidence/consistency", consistency, roles=AUDITORS, request=ConsistencyQuery,
              response=ConsistencyOut,
              summary="Consistency proof between two checkpoint sizes (?first=&second=)")
    table.add("GET", "/api/evidence/bundle", bundle, roles=AUDITORS, request=BundleQuery, errors=(409,),
              summary="An alert's offline-verifiable evidence bundle (zip) with its review decisions, as"
                      " `enforcegw evidence export --alert`")
    table.add("GET", "/api/media/{sha256}", media, roles=MEDIA_READERS, request=MediaQuery,
              summary="An original (window readings, image, video) by its SHA-256")


async def send_bundle(ctx: ApiContext, request: web.Request, code: str) -> web.StreamResponse:
    """The alert's bundle as a zip download (the same zip as `enforcegw evidence export --alert`)."""
    log = _log(ctx)
    tmp = Path(tempfile.mkdtemp(prefix="enforcegw-bundle-"))
    try:
        out = tmp / f"{re.sub(r'[^A-Za-z0-9._-]', '_', code)}.zip"
        try:
            indexes = await asyncio.to_thread(alert_entry_indexes, log, code)
            await asyncio.to_thread(export_bundle, log, indexes, out, purpose="evidence export (API)",
                                    producer="enforcegw api")
        except AlertNotFound as exc:
            raise error(404, "not_found", str(exc), "alert") from exc
        except AlertEvidenceMismatch as exc:  # the store disagrees with itself: no bundle rather than a wrong one
            raise error(500, "evidence_mismatch", str(exc)) from exc
        except LookupError as exc:
            raise error(409, "not_checkpointed", str(exc), "alert") from exc
        resp = web.StreamResponse(headers={"Content-Type": "application/zip",
                                           "Content-Disposition": f'attachment; filename="{out.name}"'})
        resp.content_length = out.stat().st_size
        await resp.prepare(request)
        with out.open("rb") as f:  # sent whole before the temp directory goes
            while chunk := await asyncio.to_thread(f.read, 1 << 20):
                await resp.write(chunk)
        await resp.write_eof()
        return resp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def send_media(ctx: ApiContext, sha256: str, *, sealed_ok: bool) -> web.StreamResponse:
    """An original from the evidence media store, by its SHA-256. A sealed original (a video alert's unredacted
    snapshot or clip) goes only to those `sealed_ok`; others are told where the rendition is."""
    sha = sha256.lower()
    if not _SHA256.fullmatch(sha):
        raise error(400, "bad_sha256", "sha256 must be 64 hex digits", "sha256")
    if not sealed_ok:
        async with ctx.pool.connection() as conn:
            row = await (await conn.execute("SELECT rendition_sha256 FROM sealed_media WHERE sha256 = %s",
                                            (sha,))).fetchone()
        if row is not None:
            where = f"; its redacted rendition is {row[0]}" if row[0] else ""
            raise error(403, "sealed_original", f"media {sha} is an original sealed for auditors{where}")
    store = _log(ctx).media
    if store is None or not await asyncio.to_thread(store.exists, sha):
        raise error(404, "not_found", f"no media {sha}")
    path = getattr(store, "path", None)
    if path is not None:
        return web.FileResponse(path(sha), headers={"Content-Type": "application/octet-stream"})
    with store.open(sha) as f:
        return web.Response(body=f.read(), content_type="application/octet-stream")
