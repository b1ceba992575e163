"""Video streams as operations see them: each configured stream's state (connecting, live, stalled, failed with
the last error), its frame counts and rate, and the newest frame it handed to detection.

The running gateway's own view when it reads the streams (fresh to the frame); otherwise what the store holds,
which names the gateway that wrote it and says when it stopped reporting."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import psycopg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from api.context import ApiContext
from api.models import error, json_response
from api.routes import RouteTable
from gateway.video.status_store import read_statuses, stream_rows

READERS = frozenset({"operator", "supervisor", "auditor", "admin"})
# A frame shows whoever walks by: people who work the queue or run the gateway, not auditors (who see the
# sealed originals an alert holds).
VIEWERS = frozenset({"operator", "supervisor", "admin"})
JPEG_QUALITY = 85


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StreamOut(_Out):
    id: str
    device_id: str
    camera: str | None = Field(default=None, description="fixed or drone (configured streams).")
    configured: bool = Field(description="False: a stream a gateway with another config reports.")
    enabled: bool | None = None
    url: str = Field(description="The source URL, any password masked.")
    state: str = Field(description="connecting, live, stalled, failed, stopped, disabled, not_reported; "
                       "'(gateway not reporting)' appended when its gateway stopped writing its status.")
    since: datetime | None = None
    last_error: str | None = None
    fps_target: float | None = None
    fps: float | None = Field(default=None, description="Frames per second kept, measured.")
    frames_read: int | None = None
    frames_kept: int | None = None
    reconnects: int | None = None
    last_frame_at: datetime | None = None
    time_source: str | None = Field(default=None, description="stream, file or arrival: where frame times come from.")
    reporter: str | None = Field(default=None, description="host:pid of the gateway that reported it.")
    updated_at: datetime | None = None
    detail: dict[str, Any] = Field(default_factory=dict, description="ZLMediaKit proxy key, DJI live result, read URL.")


class StreamsOut(_Out):
    streams: list[StreamOut]


def register(table: RouteTable, ctx: ApiContext) -> None:
    async def list_streams(_request: web.Request) -> web.Response:
        service = getattr(ctx.gateway, "video", None) if ctx.gateway is not None else None
        if service is not None:
            rows = service.rows()
        else:
            rows = await asyncio.to_thread(_stored_rows, ctx)
        fields = StreamOut.model_fields
        out = [StreamOut(**{k: v for k, v in r.items() if k in fields}) for r in rows]
        return json_response(StreamsOut(streams=out))

    async def snapshot(request: web.Request) -> web.Response:
        stream_id = request.match_info["stream_id"]
        service = getattr(ctx.gateway, "video", None) if ctx.gateway is not None else None
        if service is None or not service.has_stream(stream_id):
            raise error(404, "not_found", f"this gateway reads no stream {stream_id!r}", "stream_id")
        frame = service.latest_frame(stream_id)
        if frame is None:
            raise error(404, "no_frame", f"stream {stream_id!r} has handed no frame yet", "stream_id")
        body = await asyncio.to_thread(_jpeg, frame.image)
        return web.Response(body=body, content_type="image/jpeg", headers={
            "Cache-Control": "no-store", "X-Frame-Time": frame.time.isoformat(),
            "X-Frame-Time-Source": str(frame.time_source), "X-Frame-Seq": str(frame.seq)})

    table.add("GET", "/api/streams", list_streams, roles=READERS, response=StreamsOut,
              summary="Video streams with their state, last error, frame counts and measured rate")
    table.add("GET", "/api/streams/{stream_id}/snapshot", snapshot, roles=VIEWERS,
              summary="The newest frame a stream handed to detection, as JPEG (capture time in X-Frame-Time)")


def _stored_rows(ctx: ApiContext) -> list[dict[str, Any]]:
    with psycopg.connect(ctx.database_url) as conn:
        return stream_rows(ctx.settings.video.streams, read_statuses(conn))


def _jpeg(image: Any) -> bytes:
    import cv2  # the video extra; only a gateway that reads streams has frames to encode

    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise error(500, "encode_failed", "the frame could not be encoded as JPEG")
    return buf.tobytes()
