"""Photo import against a real PostgreSQL and a real media store: the sample photos placed (pose in `poses`,
footprint on the ground) or refused with the reason, every photo within the limit stored under its hash, each
decodable one handed to the sink; and `enforcegw photos import`."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from evidence.media import FileMediaStore
from gateway.cli import main
from gateway.commands.photos import photo_footprint
from ingest.models import Pose
from ingest.photos.importer import PhotoImporter
from ingest.telemetry.xmp import parse_photo_meta, photo_pose
from ingest.video.frames import Frame, FrameTime
from testkit.paths import shared_path
from testkit.photo_samples import CHICAGO, INVALID, NADIR, OBLIQUE, TWO, sample

pytestmark = pytest.mark.integration



class ListSink:
    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def put(self, frame: Frame) -> None:
        self.frames.append(frame)


@pytest.fixture
def drone(db_url: str) -> str:
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO devices (id, kind, name) VALUES ('drone-1', 'drone', 'patrol drone')")
    return "drone-1"


@pytest.fixture
def setup(db_url: str, drone: str, tmp_path: Path):
    store = FileMediaStore(tmp_path / "media")
    sink = ListSink()
    with PhotoImporter(db_url, store, sink, tz=CHICAGO, max_bytes=4_000_000, footprint=photo_footprint) as imp:
        yield imp, store, sink


def _metres(a: list[float], b: list[float]) -> tuple[float, float]:
    """(distance m, bearing deg) from lon/lat a to b, locally flat (a few metres)."""
    north = (b[1] - a[1]) * 111_132.0
    east = (b[0] - a[0]) * 111_320.0 * math.cos(math.radians(a[1]))
    return math.hypot(north, east), math.degrees(math.atan2(east, north)) % 360.0


def test_nadir_photo_is_placed_with_its_footprint(setup, db_url: str) -> None:
    imp, store, sink = setup
    data = sample(NADIR)
    o = imp.import_photo(NADIR, data, "drone-1")
    assert o.placed and o.reason is None and o.pose_stored and o.stored
    assert o.sha256 == hashlib.sha256(data).hexdigest() and store.exists(o.sha256)
    assert (o.width, o.height) == (4000, 2250)
    assert o.time == datetime(2016, 6, 23, 21, 33, 11, tzinfo=UTC)
    fp = o.footprint
    assert fp is not None and fp["geometry"]["type"] == "Polygon"
    distance, _ = _metres(fp["properties"]["camera"], fp["properties"]["centre"])
    assert distance < 0.5  # pitch -89.9 at 40.1 m: 7 cm off nadir
    ring = fp["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 33 and not fp["properties"]["clipped"]
    # FC300S: 3.61 mm on a 6.17 mm wide sensor (geo.camera_models), the 16:9 photo keeping its width: 68.5 m
    # across at 40.1 m, 38.5 m down
    across = 2 * 40.1 * 6.17 / 2 / 3.61
    diagonal = max(_metres(a, b)[0] for a in ring for b in ring)
    assert diagonal == pytest.approx(math.hypot(across, across * 2250 / 4000), rel=0.01)
    assert fp["properties"]["area_m2"] == pytest.approx(across * across * 2250 / 4000, rel=0.02)
    assert fp["properties"]["focal_source"].startswith("sensor_table:FC300S")
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT time, lat, lon, alt_rel_m, gimbal_pitch, source, has_fix FROM poses "
                           "WHERE device_id = 'drone-1'").fetchall()
    assert row == [(o.time, pytest.approx(46.84252125), pytest.approx(-91.9942096111), 40.1, -89.9, "xmp", True)]
    (frame,) = sink.frames
    assert frame.placed and frame.media_sha256 == o.sha256 and frame.time_source is FrameTime.EXIF
    assert frame.image.shape == (2250, 4000, 3) and frame.pose_offset_s == 0.0


def test_oblique_footprint_lies_ahead_along_the_gimbal_yaw(setup) -> None:
    imp, _, _ = setup
    o = imp.import_photo(OBLIQUE, sample(OBLIQUE), "drone-1")
    assert o.placed and o.footprint is not None
    distance, bearing = _metres(o.footprint["properties"]["camera"], o.footprint["properties"]["centre"])
    assert distance == pytest.approx(10.5 / math.tan(math.radians(45.8)), abs=0.2)
    assert bearing == pytest.approx(360 - 163.0, abs=1.0)
    assert o.time == datetime(2023, 8, 16, 10, 40, 41, tzinfo=UTC)  # the photo's own +02:00


@pytest.mark.parametrize(("name", "cut", "reason", "frame_time"), [
    (INVALID, None, "gps_invalid", FrameTime.EXIF),
    (TWO, None, "no_time", FrameTime.ARRIVAL),
    (OBLIQUE, 300, "truncated", None),
    (OBLIQUE, 9713, "undecodable", None),  # the metadata is whole, the image data stops at its SOS header
])
def test_refused_photos_are_stored_and_reported(setup, name: str, cut: int | None, reason: str,
                                                frame_time: FrameTime | None) -> None:
    imp, store, sink = setup
    data = sample(name)[:cut]
    o = imp.import_photo(name, data, "drone-1")
    assert not o.placed and o.reason == reason and o.detail and not o.pose_stored
    assert o.stored and store.exists(o.sha256)
    if frame_time is None:
        assert sink.frames == []
    else:
        (frame,) = sink.frames
        assert not frame.placed and frame.unplaced_reason == reason and frame.time_source is frame_time


def test_garbage_too_large_unknown_device_and_repeat(setup) -> None:
    imp, store, _ = setup
    assert imp.import_photo("x.jpg", b"not a photo", "drone-1").reason == "not_jpeg"
    big = imp.import_photo("big.jpg", b"\xff\xd8" + bytes(4_000_000), "drone-1")
    assert (big.reason, big.stored) == ("too_large", False) and not store.exists(big.sha256)
    assert imp.import_photo(OBLIQUE, sample(OBLIQUE), "drone-9").reason == "unknown_device"
    first = imp.import_photo(OBLIQUE, sample(OBLIQUE), "drone-1")
    again = imp.import_photo(OBLIQUE, sample(OBLIQUE), "drone-1")
    assert first.pose_stored and again.placed and not again.pose_stored and again.sha256 == first.sha256


def test_without_a_device_the_pose_is_reported_not_stored(setup, db_url: str) -> None:
    imp, _, _ = setup
    o = imp.import_photo(OBLIQUE, sample(OBLIQUE), None)
    assert o.placed and not o.pose_stored and o.footprint is not None
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM poses").fetchone() == (0,)


def test_cli_imports_a_directory(tmp_path: Path, db_url: str, drone: str, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENFORCEGW_DATABASE__URL", db_url)
    monkeypatch.setenv("ENFORCEGW_DATA_DIR", str(tmp_path / "data"))
    photos = tmp_path / "flight"
    photos.mkdir()
    for name in (NADIR, INVALID, OBLIQUE, TWO):
        (photos / name).symlink_to(shared_path("samples", "dji_photos", name))
    (photos / "notes.txt").write_text("not a photo")
    assert main(["photos", "import", str(photos), "--device", drone, "--json", "--no-progress",
                 "--tz", "America/Chicago"]) == 1
    # log lines (store.migrated) share stdout with the JSON lines
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    by_name = {x["name"]: x for x in lines[:-1]}
    assert sorted(by_name) == sorted([NADIR, INVALID, OBLIQUE, TWO])
    assert by_name[NADIR]["placed"] and by_name[NADIR]["footprint"]["geometry"]["type"] == "Polygon"
    assert by_name[INVALID]["reason"] == "gps_invalid" and by_name[TWO]["reason"] == "no_time"
    assert lines[-1]["summary"] == {"photos": 4, "placed": 2, "refused": 2, "poses_stored": 2,
                                    "refused_by_reason": {"gps_invalid": 1, "no_time": 1},
                                    "frames_to_detection": 4}
    assert main(["photos", "import", str(photos / OBLIQUE), "--device", drone, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"{OBLIQUE}: placed, footprint centre 53.03" in out and "pose already stored" in out
    assert "1 photos: 1 placed, 0 refused; 0 poses stored; 1 frames handed to detection" in out
    assert main(["photos", "import", str(photos / OBLIQUE), "--no-progress"]) == 0
    assert "(no --device: pose not stored)" in capsys.readouterr().out


def test_cli_refuses_an_unknown_device(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENFORCEGW_DATABASE__URL", db_url)
    monkeypatch.setenv("ENFORCEGW_DATA_DIR", str(tmp_path / "data"))
    assert main(["photos", "import", str(tmp_path), "--device", "nobody"]) == 2
    assert "--device 'nobody' is not registered" in capsys.readouterr().err


def test_a_reversed_gimbal_turns_the_footprint_not_its_centre() -> None:
    meta = parse_photo_meta(sample(OBLIQUE))
    pose = photo_pose(meta, "drone-1", CHICAGO)
    assert isinstance(pose, Pose)
    upright = photo_footprint(meta, pose)
    flipped = photo_footprint(replace(meta, gimbal_reverse=True), pose)
    both = photo_footprint(replace(meta, gimbal_reverse=True, cam_reverse=True), pose)
    assert isinstance(upright, dict) and isinstance(flipped, dict) and isinstance(both, dict)
    assert flipped["properties"]["centre"] == pytest.approx(upright["properties"]["centre"], abs=1e-9)
    assert flipped["geometry"] != upright["geometry"]
    assert both["geometry"] == upright["geometry"]  # the camera flips its image back
