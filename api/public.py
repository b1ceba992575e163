"""Public disclosure, no token (art. 41: where enforcement devices are, and that they were reviewed and
calibrated, is published): the device list (JSON, or GeoJSON with `Accept: application/geo+json`) and the
newest signed checkpoint (anyone may keep it and later hold the log to it). The vkey is served by the gateway."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any, ClassVar

from aiohttp import web
from psycopg.rows import dict_row
from pydantic import RootModel

from api.context import ApiContext
from api.models import PublicDeviceOut, PublicDevicesOut, error, json_response
from api.routes import PUBLIC, RouteTable

GEOJSON = "application/geo+json"


class SignedCheckpointOut(RootModel[str]):
    """The newest checkpoint as its signed note (C2SP tlog-checkpoint text)."""

    media_type: ClassVar[str] = "text/plain"


# What a camera, drone or dock watches, when its record names no inspection object.
_WATCHES = {"camera": "video", "drone": "aerial video", "dock": "aerial video"}


def _measures(row: dict) -> list[str]:
    attrs = row["attrs"] or {}
    metrics = attrs.get("metrics")
    if isinstance(metrics, list):
        return [str(m) for m in metrics]
    if isinstance(metrics, dict):
        return sorted(str(m) for m in metrics)
    return [_WATCHES[row["kind"]]] if row["kind"] in _WATCHES else []


def public_device(row: dict, now: datetime) -> PublicDeviceOut:
    until = row["calibration_valid_until"]
    return PublicDeviceOut(
        id=row["id"], kind=row["kind"], name=row["name"], measures=_measures(row),
        inspection_object=row["inspection_object"], lon=row["lon"], lat=row["lat"], since=row["created_at"],
        legal_review_ref=row["legal_review_ref"], technical_review_ref=row["technical_review_ref"],
        calibration_cert=row["calibration_cert"], calibration_valid_until=until,
        calibration_valid=row["calibration_cert"] is not None and until is not None and until > now,
        public_notice=row["public_notice"])


def feature_collection(devices: list[PublicDeviceOut]) -> dict[str, Any]:
    features = []
    for d in devices:
        props = json.loads(d.model_dump_json(exclude={"lon", "lat"}))
        geometry = None if d.lon is None or d.lat is None else {"type": "Point", "coordinates": [d.lon, d.lat]}
        features.append({"type": "Feature", "id": d.id, "geometry": geometry, "properties": props})
    return {"type": "FeatureCollection", "features": features}


def register(table: RouteTable, ctx: ApiContext) -> None:
    async def devices(request: web.Request) -> web.Response:
        async with ctx.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = await (await cur.execute("SELECT * FROM devices ORDER BY id")).fetchall()
        now = datetime.now(UTC)
        out = [public_device(r, now) for r in rows]
        if GEOJSON in request.headers.get("Accept", ""):
            return web.Response(text=json.dumps(feature_collection(out), ensure_ascii=False),
                                content_type=GEOJSON)
        return json_response(PublicDevicesOut(devices=out))

    async def checkpoint(_request: web.Request) -> web.Response:
        if ctx.evidence is None:
            raise error(503, "no_evidence_log", "this process has no evidence log")
        cp = await asyncio.to_thread(ctx.evidence.latest_checkpoint)
        if cp is None:
            raise error(404, "no_checkpoint", "the log has no signed checkpoint yet")
        return web.Response(text=cp.note, content_type="text/plain", charset="utf-8")

    table.add("GET", "/api/public/devices", devices, roles=PUBLIC, response=PublicDevicesOut,
              summary="Enforcement devices as published: what, where, since when, reviews, calibration"
                      " (GeoJSON with Accept: application/geo+json)")
    table.add("GET", "/api/public/checkpoint", checkpoint, roles=PUBLIC, response=SignedCheckpointOut,
              summary="The newest signed checkpoint of the evidence log (signed note, text/plain)")
