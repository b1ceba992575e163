"""POST /api/media/photos on a real gateway (real PostgreSQL, MQTT and HTTP): device and admin uploads answered
per photo, placed or refused, the originals in the media store and the poses in `poses`; a device uploading for
another, a non-photo body, an oversize photo and an unknown device refused with nothing stored; every request in
the audit log; the route documented."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest

from api import photos as photos_api
from evidence.media import FileMediaStore
from testkit.api_harness import ApiGateway, api_gateway
from testkit.gateway_harness import count, register
from testkit.paths import shared_path

pytestmark = pytest.mark.integration

PATH = "/api/media/photos"
INVALID = "dji_mini3pro_indoor_gps_invalid_DJI_0218.jpg"
OBLIQUE = "dji_mavic3pro_thumb_oblique_xmp.jpg"
TWO = "dji_test_pro_thumb_xmp_two_packets.jpg"


def sample(name: str) -> bytes:
    return shared_path("samples", "dji_photos", name).read_bytes()


def form(*names: str, field: str = "photo") -> aiohttp.FormData:
    f = aiohttp.FormData()
    for name in names:
        f.add_field(field, sample(name), filename=name, content_type="image/jpeg")
    return f


@pytest.fixture
async def api(tmp_path: Path, db_url: str, mqtt_url: str) -> AsyncIterator[ApiGateway]:
    register(db_url, "drone-1", "drone-2", kind="drone")
    async with api_gateway(tmp_path, db_url, mqtt_url) as api:
        for device in ("drone-1", "ghost-1"):
            api.tokens[device] = api.new_token("device", device)[1]
        api.tokens["not-an-id"] = api.new_token("device", "drone 1 (old token)")[1]
        yield api


async def post(api: ApiGateway, who: str, **kw: Any) -> tuple[int, dict]:
    async with api.request("POST", PATH, who, **kw) as r:
        assert r.content_type == "application/json"
        return r.status, await r.json()


def media(api: ApiGateway) -> FileMediaStore:
    s = api.gw.settings
    return FileMediaStore(s.evidence.resolved_media_dir(s.data_dir))


def audit(api: ApiGateway) -> list[tuple]:
    with psycopg.connect(api.db_url) as conn:
        return conn.execute("SELECT token_name, action, target, result, status FROM audit_log ORDER BY id").fetchall()


async def test_a_device_uploads_its_photos(api: ApiGateway) -> None:
    status, out = await post(api, "drone-1", data=form(OBLIQUE, INVALID, TWO))
    assert status == 201
    assert (out["device_id"], out["placed"], out["refused"]) == ("drone-1", 1, 2)
    oblique, invalid, two = out["photos"]
    assert oblique["name"] == OBLIQUE and oblique["placed"] and oblique["pose_stored"]
    assert oblique["pose"]["lat"] == 53.035437857 and oblique["pose"]["gimbal_pitch"] == -45.8
    assert oblique["footprint"]["geometry"]["type"] == "Polygon" and len(oblique["centre"]) == 2
    assert (invalid["reason"], two["reason"]) == ("gps_invalid", "no_time")
    for name, photo in ((OBLIQUE, oblique), (INVALID, invalid), (TWO, two)):
        assert photo["sha256"] == hashlib.sha256(sample(name)).hexdigest() and photo["stored"]
        assert media(api).exists(photo["sha256"])
    assert count(api.db_url, "SELECT count(*) FROM poses WHERE device_id = 'drone-1' AND source = 'xmp'") == 1
    assert audit(api)[-1] == ("drone-1", f"POST {PATH}", "device:drone-1", "imported:1_placed:2_refused", 201)


async def test_an_admin_uploads_one_jpeg_body_for_a_named_drone(api: ApiGateway) -> None:
    headers = {"Content-Type": "image/jpeg"}
    status, out = await post(api, "admin", data=sample(OBLIQUE), headers=headers, params={"device_id": "drone-2"})
    assert status == 201 and out["device_id"] == "drone-2"
    (photo,) = out["photos"]
    assert photo["name"] == "photo.jpg" and photo["placed"] and photo["pose_stored"]
    status, out = await post(api, "admin", data=sample(OBLIQUE), headers=headers)  # no drone: not stored
    assert status == 201 and out["device_id"] is None
    assert out["photos"][0]["placed"] and not out["photos"][0]["pose_stored"]
    assert count(api.db_url, "SELECT count(*) FROM poses") == 1


@pytest.mark.parametrize(("who", "kw", "status", "code"), [
    ("drone-1", {"data": form(OBLIQUE), "params": {"device_id": "drone-2"}}, 403, "wrong_device"),
    ("ghost-1", {"data": form(OBLIQUE)}, 422, "unknown_device"),
    ("not-an-id", {"data": form(OBLIQUE)}, 403, "not_a_device_id"),
    ("admin", {"data": form(OBLIQUE), "params": {"device_id": "ghost-2"}}, 422, "unknown_device"),
    ("admin", {"data": form(OBLIQUE), "params": {"device_id": "bad id!"}}, 422, "invalid"),
    ("admin", {"data": b"{}", "headers": {"Content-Type": "application/json"}}, 415, "unsupported_media_type"),
    ("admin", {"data": form(OBLIQUE, field="picture")}, 422, "invalid"),
    ("admin", {"data": b"--b\r\n-5007121--b--\r\n", "headers": {"Content-Type": "multipart/form-data; boundary=b"}},
     400, "bad_request"),  # a part whose header line is not a header
    ("admin", {"data": b"", "headers": {"Content-Type": "image/jpeg"}}, 422, "invalid"),
    ("operator", {"data": form(OBLIQUE)}, 403, "role_not_allowed"),
])
async def test_refused_uploads_store_nothing(api: ApiGateway, who: str, kw: dict[str, Any], status: int,
                                             code: str) -> None:
    got, out = await post(api, who, **kw)
    assert (got, out["error"]["code"]) == (status, code)
    assert list(media(api)) == []
    assert count(api.db_url, "SELECT count(*) FROM poses") == 0
    row = audit(api)[-1]
    assert row[1] == f"POST {PATH}" and row[4] == status and row[3].startswith("refused")


async def test_an_oversize_photo_is_refused_413(api: ApiGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(photos_api, "MAX_PHOTO_BYTES", 10_000)
    status, out = await post(api, "drone-1", data=form(TWO, OBLIQUE))  # 8,875 B passes, 11,587 B does not
    assert (status, out["error"]["code"]) == (413, "payload_too_large")
    assert OBLIQUE in out["error"]["message"] and list(media(api)) == []
    monkeypatch.setattr(photos_api, "MAX_REQUEST_BYTES", 1_000)
    status, out = await post(api, "drone-1", data=sample(TWO), headers={"Content-Type": "image/jpeg"})
    assert (status, out["error"]["code"]) == (413, "payload_too_large")


async def test_the_route_is_documented(api: ApiGateway) -> None:
    async with api.request("GET", "/api/openapi.json") as r:
        doc = await r.json()
    op = doc["paths"][PATH]["post"]
    assert op["x-roles"] == ["admin", "device"] and op["x-changes-state"] is True
    assert {"201", "2XX"} & set(op["responses"]) and {"413", "415", "422", "403"} <= set(op["responses"])
    assert op["responses"]["2XX"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PhotosOut"}
    (body,) = op["requestBody"]["content"].values()  # multipart/form-data once the document honours media_type
    assert body["schema"] == {"$ref": "#/components/schemas/PhotosUpload"}
    photo = doc["components"]["schemas"]["PhotosUpload"]["properties"]["photo"]
    assert photo["items"]["format"] == "binary" and photo["minItems"] == 1
