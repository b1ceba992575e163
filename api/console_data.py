"""What the console needs beside the queue: who is signed in, counts per review state (the tabs), zones and
jurisdiction boundaries as GeoJSON (the map, and its offline base), a device's track (drone alerts), and the
console's settings (tile template, time zone)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from api.alerts_read import QUEUES
from api.context import ApiContext, principal
from api.errors import parse_query
from api.filters import require_offset, where_clauses
from api.models import json_response
from api.routes import PUBLIC, QUEUE_READERS, ROLES, RouteTable

MAP_READERS = QUEUE_READERS | {"admin"}
# Published to anyone: administrative boundaries (the offline base map) and where drones patrol (art. 41 asks
# that where monitoring happens be made public, as fixed device locations are).
PUBLIC_ZONE_KINDS = ("jurisdiction", "patrol_area")
MAX_TRACK_POINTS = 20_000
STATUSES = ("new", "in_review", "confirmed", "dismissed", "approved", "rejected")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MeOut(_Out):
    token_id: int
    name: str
    role: str


class CountsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str | None = Field(default=None, max_length=200)
    source: Literal["sensor", "video", "manual"] | None = None
    category: Literal["violation", "quality_exceedance"] | None = None
    subject: str | None = Field(default=None, max_length=200, description="enforcement subject code")
    device: str | None = Field(default=None, max_length=200)
    zone: str | None = Field(default=None, max_length=200)
    from_: datetime | None = Field(default=None, alias="from", description="start_time at or after (with offset)")
    to: datetime | None = Field(default=None, description="start_time before (with offset)")


class CountsOut(_Out):
    by_status: dict[str, int] = Field(description="Alerts per review status (every status, 0 included).")
    queues: dict[str, int] = Field(description="legal_review (waiting for a supervisor), case_ready.")
    total: int


class ZonesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str | None = Field(default=None, max_length=100, description="Only zones of this kind.")


class GeoJsonOut(_Out):
    media_type: ClassVar[str] = "application/geo+json"
    type: Literal["FeatureCollection", "Feature"]
    features: list[dict[str, Any]] | None = None
    geometry: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None


class TrackQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_: datetime = Field(alias="from", description="From (ISO 8601 with offset).")
    to: datetime = Field(description="To (ISO 8601 with offset).")


class ConsoleConfigOut(_Out):
    tile_url: str | None
    tile_attribution: str
    tile_crs: Literal["wgs84", "gcj02"]
    max_zoom: int
    timezone: str
    default_language: Literal["zh", "en"]
    roles: list[str]


def counts_query(q: CountsQuery) -> tuple[str, list[Any]]:
    where, params = where_clauses((("kind", q.kind), ("source", q.source), ("category", q.category),
                                   ("subject_code", q.subject), ("device_id", q.device), ("zone_id", q.zone)),
                                  "start_time", q.from_, q.to)
    cond = " AND ".join(where) if where else "true"
    queues = ", ".join(f"count(*) FILTER (WHERE {pred})" for pred in QUEUES.values())
    return (f"SELECT status, count(*), {queues} FROM alerts WHERE {cond} GROUP BY status", params)


def _feature(zone_id: str, kind: str, name: str, subject: str | None, spec: dict) -> dict[str, Any]:
    return {"type": "Feature", "id": zone_id, "geometry": spec.get("geometry"),
            "properties": {"id": zone_id, "kind": kind, "name": name, "subject_code": subject,
                           "enforcement_items": spec.get("enforcement_items", [])}}


def register(table: RouteTable, ctx: ApiContext) -> None:
    async def me(request: web.Request) -> web.Response:
        who = principal(request)
        assert who is not None
        return json_response(MeOut(token_id=who.token_id, name=who.name, role=who.role))

    async def counts(request: web.Request) -> web.Response:
        sql, params = counts_query(parse_query(request, CountsQuery))
        async with ctx.pool.connection() as conn:
            rows = await (await conn.execute(sql, params)).fetchall()
        by_status = dict.fromkeys(STATUSES, 0)
        queues = dict.fromkeys(QUEUES, 0)
        for status, n, *per_queue in rows:
            by_status[status] = n
            for name, m in zip(QUEUES, per_queue, strict=True):
                queues[name] += m
        return json_response(CountsOut(by_status=by_status, queues=queues, total=sum(by_status.values())))

    async def _zones(kinds: list[str] | None) -> GeoJsonOut:
        async with ctx.pool.connection() as conn:
            rows = await (await conn.execute(
                "SELECT id, kind, name, subject_code, spec FROM zones WHERE %s::text[] IS NULL OR kind = ANY(%s)"
                " ORDER BY priority DESC, id", (kinds, kinds))).fetchall()
        return GeoJsonOut(type="FeatureCollection", features=[_feature(*r) for r in rows])

    async def zones(request: web.Request) -> web.Response:
        kind = parse_query(request, ZonesQuery).kind
        out = await _zones(None if kind is None else [kind])
        return web.Response(text=out.model_dump_json(exclude_none=True), content_type="application/geo+json")

    async def boundaries(_request: web.Request) -> web.Response:
        out = await _zones(list(PUBLIC_ZONE_KINDS))
        return web.Response(text=out.model_dump_json(exclude_none=True), content_type="application/geo+json")

    async def track(request: web.Request) -> web.Response:
        q = parse_query(request, TrackQuery)
        require_offset(q.from_, "from")
        require_offset(q.to, "to")
        device = request.match_info["device_id"]
        async with ctx.pool.connection() as conn:
            rows = await (await conn.execute(
                "SELECT time, lon, lat, alt_rel_m FROM poses WHERE device_id = %s AND time >= %s AND time < %s"
                " AND has_fix ORDER BY time LIMIT %s", (device, q.from_, q.to, MAX_TRACK_POINTS))).fetchall()
        feature = GeoJsonOut(type="Feature", geometry={"type": "LineString", "coordinates": [
            [lon, lat] for _t, lon, lat, _a in rows]}, properties={
            "device_id": device, "times": [t.isoformat() for t, *_ in rows],
            "alt_rel_m": [a for *_, a in rows], "truncated": len(rows) == MAX_TRACK_POINTS})
        return web.Response(text=feature.model_dump_json(exclude_none=True), content_type="application/geo+json")

    async def console_config(_request: web.Request) -> web.Response:
        c = ctx.settings.api.console
        return json_response(ConsoleConfigOut(tile_url=c.tile_url, tile_attribution=c.tile_attribution,
                                              tile_crs=c.tile_crs, max_zoom=c.max_zoom, timezone=c.timezone,
                                              default_language=c.default_language, roles=list(ROLES)))

    table.add("GET", "/api/me", me, roles=set(ROLES) - {"device"}, response=MeOut,
              summary="The signed-in token: id, name, role (the console shows what the role may do)")
    table.add("GET", "/api/alerts/counts", counts, roles=QUEUE_READERS, request=CountsQuery, response=CountsOut,
              summary="Alerts per review status and per work queue, under the queue's filters (the console's tabs)")
    table.add("GET", "/api/zones", zones, roles=MAP_READERS, request=ZonesQuery, response=GeoJsonOut,
              summary="Zones as a GeoJSON FeatureCollection (application/geo+json), optionally of one kind")
    table.add("GET", "/api/devices/{device_id}/track", track, roles=QUEUE_READERS, request=TrackQuery,
              response=GeoJsonOut, summary="A device's positions (poses with a fix) in a time range as a GeoJSON "
              "LineString, times and heights in its properties")
    table.add("GET", "/api/public/boundaries", boundaries, roles=PUBLIC, response=GeoJsonOut,
              summary="Jurisdiction boundaries and drone patrol areas as GeoJSON (public, art. 41); the offline base")
    table.add("GET", "/api/console/config", console_config, roles=PUBLIC, response=ConsoleConfigOut,
              summary="The console's settings: base-map tile template and its CRS, time zone, default language")
