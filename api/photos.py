"""`POST /api/media/photos`: patrol photos uploaded by an admin or by a drone's device token, each stored under its
hash, placed from its XMP/EXIF pose with its ground footprint or refused with the reason, as
`enforcegw photos import` does.

The body is multipart/form-data with one or more `photo` parts (the file name of each part names the photo in the
answer), or a single photo as an `image/jpeg` body. A device token uploads for its own device (a `?device_id=`
must equal the token's name); an admin names the drone with `?device_id=` (without it the poses are reported and
not stored). The answer is 201 with one outcome per photo, placed or refused; the request is refused whole, with
nothing stored, when it is not a photo upload:

    413 payload_too_large      the body is over MAX_REQUEST_BYTES, or one photo over MAX_PHOTO_BYTES
    415 unsupported_media_type neither multipart/form-data nor image/jpeg
    422 invalid                no `photo` part, a part of another name, more than MAX_PHOTOS photos, an empty photo,
                               or a `device_id` that is not a registered device
    403 wrong_device           a device token naming another device (not_a_device_id: a device token whose name
                               is not a device id)

Decoding and projecting a 12 MP photo takes a few hundred milliseconds: at most UPLOADS_AT_ONCE requests are
imported at a time, each in a worker thread, so uploads never stall the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, ClassVar
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, ConfigDict, Field

from api.context import ApiContext, Principal, audit_note, principal
from api.models import error, json_response
from api.routes import RouteTable
from gateway.commands.photos import CountingSink, media_store, photo_footprint
from gateway.video.frame_stage import WaitingSink
from ingest.decode import DEVICE_ID_RE
from ingest.photos.importer import PhotoImporter, PhotoOutcome
from ingest.video.frames import FrameSink

PATH = "/api/media/photos"
MAX_PHOTO_BYTES = 40 * 1024 * 1024
MAX_REQUEST_BYTES = 200 * 1024 * 1024
MAX_PHOTOS = 50
UPLOADS_AT_ONCE = 2
_CHUNK = 1 << 16
_uploads: dict[int, asyncio.Semaphore] = {}  # per event loop: tests run several


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PhotosUpload(_Out):
    """The multipart/form-data body (documented as such once api/openapi.py honours a request model's
    `media_type`, as it does a response model's)."""

    media_type: ClassVar[str] = "multipart/form-data"
    photo: list[Annotated[bytes, Field(min_length=1)]] = Field(
        min_length=1, max_length=MAX_PHOTOS, description="The photos, one part each (JPEG; the part's file name "
        "names the photo in the answer).")


class PhotoPoseOut(_Out):
    device_id: str = Field(description="The drone the pose is stored for ('' when the upload named none).")
    time: datetime
    lat: float | None
    lon: float | None
    alt_rel_m: float | None = Field(description="drone-dji:RelativeAltitude: above the take-off point, metres.")
    alt_abs_m: float | None = Field(description="drone-dji:AbsoluteAltitude, metres.")
    yaw: float | None
    pitch: float | None
    roll: float | None
    gimbal_yaw: float | None
    gimbal_pitch: float | None
    gimbal_roll: float | None
    hfov_deg: float | None


class PhotoOutcomeOut(_Out):
    name: str = Field(description="The part's file name (or `photo.jpg` for an image/jpeg body).")
    sha256: str = Field(description="Hex SHA-256 of the original bytes: its name in the media store.")
    size: int
    stored: bool = Field(description="The original is in the media store.")
    placed: bool = Field(description="The photo has a usable pose.")
    reason: str | None = Field(description="Why it is not placed: not_jpeg, truncated, bad_exif, undecodable, "
                               "gps_invalid, no_position, zero_position, bad_position, no_time, bad_time, "
                               "unknown_device.")
    detail: str | None
    time: datetime | None = Field(description="Capture time from EXIF (the photo's offset, else the console zone).")
    width: int | None
    height: int | None
    pose: PhotoPoseOut | None
    pose_stored: bool = Field(description="False when no device was named or the same pose is already stored.")
    footprint: dict[str, Any] | None = Field(description="GeoJSON Feature: the ground the photo covers (Polygon "
                                             "of the image border, properties.centre [lon, lat]).")
    footprint_reason: str | None
    centre: list[float] | None = Field(description="[lon, lat] of the footprint's centre, else of the camera.")


class PhotosOut(_Out):
    device_id: str | None = Field(description="The device the poses were stored for.")
    placed: int
    refused: int
    photos: list[PhotoOutcomeOut]


def register(table: RouteTable, ctx: ApiContext) -> None:
    async def upload(request: web.Request) -> web.Response:
        who = principal(request)
        assert who is not None  # admin or device tokens only
        device_id = _device(request, who)
        audit_note(request, target=f"device:{device_id}" if device_id else "photos")
        if device_id is not None:
            await _registered(ctx, request, device_id)
        photos = await _read_photos(request)
        loop = asyncio.get_running_loop()
        gate = _uploads.setdefault(id(loop), asyncio.Semaphore(UPLOADS_AT_ONCE))
        async with gate:
            outcomes = await asyncio.to_thread(_import, ctx, photos, device_id)
        placed = sum(o.placed for o in outcomes)
        audit_note(request, result=f"imported:{placed}_placed:{len(outcomes) - placed}_refused")
        body = PhotosOut(device_id=device_id, placed=placed, refused=len(outcomes) - placed,
                         photos=[PhotoOutcomeOut(**o.as_json()) for o in outcomes])
        return json_response(body, status=201)

    table.add("POST", PATH, upload, roles={"admin", "device"}, request=PhotosUpload, response=PhotosOut,
              errors=(413, 415, 422),
              summary="Patrol photos (multipart/form-data `photo` parts, or one image/jpeg body) for the token's "
                      "device or an admin's ?device_id=: each stored under its hash and answered placed (pose, "
                      "footprint) or refused with the reason, 201")


def _device(request: web.Request, who: Principal) -> str | None:
    named = request.query.get("device_id")
    if who.role == "device":
        if named is not None and named != who.name:
            audit_note(request, target=f"device:{named}", result="refused_wrong_device")
            raise error(403, "wrong_device", f"this token is device {who.name!r}'s; it may not upload photos for "
                        f"device {named!r}")
        if DEVICE_ID_RE.fullmatch(who.name) is None:
            raise error(403, "not_a_device_id", f"this token's name {who.name!r} is not a device id "
                        "([A-Za-z0-9_.:-]{1,64}); create the device's token with its id as the name")
        return who.name
    if named is not None and DEVICE_ID_RE.fullmatch(named) is None:
        raise error(422, "invalid", f"{named!r} is not a device id ([A-Za-z0-9_.:-]{{1,64}})", "device_id")
    return named


async def _registered(ctx: ApiContext, request: web.Request, device_id: str) -> None:
    async with ctx.pool.connection() as conn:
        row = await (await conn.execute("SELECT 1 FROM devices WHERE id = %s", (device_id,))).fetchone()
    if row is None:
        audit_note(request, result="refused_unknown_device")
        raise error(422, "unknown_device", f"device {device_id!r} is not registered (enforcegw devices import); "
                    "nothing was stored", "device_id")


async def _read_photos(request: web.Request) -> list[tuple[str, bytes]]:
    if request.content_length is not None and request.content_length > MAX_REQUEST_BYTES:
        raise error(413, "payload_too_large", f"the body is {request.content_length} bytes, the limit is "
                    f"{MAX_REQUEST_BYTES}")
    kind = request.content_type
    try:
        if kind == "image/jpeg":
            data = await _read_limited(request.content.read, "photo.jpg")
            photos = [("photo.jpg", data)]
        elif kind == "multipart/form-data":
            photos = await _read_parts(await request.multipart())
        else:
            raise error(415, "unsupported_media_type", f"send multipart/form-data with `photo` parts, or one "
                        f"image/jpeg body, not {kind!r}")
    except (aiohttp.ClientError, ConnectionError, HttpProcessingError, ValueError, AssertionError) as exc:
        # aiohttp's multipart reader raises these on a malformed body (bad part headers, a missing boundary)
        raise error(400, "bad_request", f"the body is not readable as {kind}: {exc}") from None
    if not photos:
        raise error(422, "invalid", "the upload has no `photo` part", "photo")
    for name, data in photos:
        if not data:
            raise error(422, "invalid", f"photo {name!r} is empty", "photo")
    return photos


async def _read_parts(reader: aiohttp.MultipartReader) -> list[tuple[str, bytes]]:
    photos: list[tuple[str, bytes]] = []
    total = 0
    while (part := await reader.next()) is not None:
        if not isinstance(part, aiohttp.BodyPartReader) or part.name != "photo":
            name = getattr(part, "name", None)
            raise error(422, "invalid", f"unexpected part {name!r}: only `photo` parts are taken", "photo")
        if len(photos) >= MAX_PHOTOS:
            raise error(422, "invalid", f"more than {MAX_PHOTOS} photos in one upload", "photo")
        name = part.filename or f"photo-{len(photos) + 1}.jpg"
        data = await _read_limited(part.read_chunk, name)
        total += len(data)
        if total > MAX_REQUEST_BYTES:
            raise error(413, "payload_too_large", f"the photos add up to over {MAX_REQUEST_BYTES} bytes")
        photos.append((name, data))
    return photos


async def _read_limited(read: Callable[[int], Any], name: str) -> bytes:
    """One photo's bytes; 413 as soon as it is longer than MAX_PHOTO_BYTES (the rest is not read)."""
    parts: list[bytes] = []
    got = 0
    while chunk := await read(_CHUNK):
        got += len(chunk)
        if got > MAX_PHOTO_BYTES:
            raise error(413, "payload_too_large", f"photo {name!r} is over {MAX_PHOTO_BYTES} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _sink(ctx: ApiContext) -> FrameSink:
    """The gateway's frame stage, where every source's frames go to detection."""
    frames = getattr(ctx.gateway, "frames", None) if ctx.gateway is not None else None
    return WaitingSink(frames) if frames is not None else CountingSink()


def _import(ctx: ApiContext, photos: list[tuple[str, bytes]], device_id: str | None) -> list[PhotoOutcome]:
    tz = ZoneInfo(ctx.settings.api.console.timezone)
    with PhotoImporter(ctx.database_url, media_store(ctx.settings), _sink(ctx), tz=tz, max_bytes=MAX_PHOTO_BYTES,
                       footprint=photo_footprint) as importer:
        return [importer.import_photo(name, data, device_id) for name, data in photos]
