"""`enforcegw telemetry import` against a real PostgreSQL: stores, a re-import counts duplicates, an unknown device
and an unusable file are refused, a dateless SRT needs --start; and `store_poses` on its own."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import yaml

from gateway.cli import main
from ingest.models import Pose
from ingest.telemetry.pose_import import UnknownDeviceError, store_poses
from testkit.paths import shared_path

pytestmark = pytest.mark.integration


@pytest.fixture
def cfg(tmp_path: Path, db_url: str) -> str:
    path = tmp_path / "enforcegw.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": db_url}, "data_dir": str(tmp_path / "data")}))
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO devices (id, kind, name) VALUES ('drone-01', 'drone', 'M300'),"
                     " ('plane-01', 'drone', 'QuadPlane')")
    return str(path)


def _run(cfg: str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = main(["-c", cfg, "telemetry", "import", *args, "--json"])
    # log lines (store.migrated) share stdout with the report: the report is the JSON line
    out = [x for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    return code, (json.loads(out[-1]) if out else {})


def test_import_then_reimport(cfg: str, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    srt = str(shared_path("samples", "dji_srt", "dji_matrice300.srt"))
    code, out = _run(cfg, capsys, srt, "--device", "drone-01", "--tz", "Europe/Madrid")
    assert (code, out["format"], out["stored"], out["duplicate"], out["refused"]) == (0, "dji_srt", 381, 0, 0)
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT time, lat, lon, alt_rel_m, source, extra->>'video_offset_s' FROM poses"
                            " WHERE device_id = 'drone-01' ORDER BY time").fetchall()
    assert len(rows) == 381
    assert rows[0] == (datetime(2022, 6, 21, 14, 6, 17, tzinfo=UTC), 36.6146, -6.112, 0.3, "srt", "0.0")
    assert rows[-1][0] == datetime(2022, 6, 21, 14, 12, 37, tzinfo=UTC)
    code, out = _run(cfg, capsys, srt, "--device", "drone-01", "--tz", "Europe/Madrid")
    assert (code, out["stored"], out["duplicate"]) == (0, 0, 381)


def test_tlog_import_and_text_report(cfg: str, capsys: pytest.CaptureFixture[str]) -> None:
    tlog = str(shared_path("samples", "mavlink", "ardupilot_quadplane_sitl_vtol.tlog"))
    assert main(["-c", cfg, "telemetry", "import", tlog, "--device", "plane-01"]) == 0
    assert "mavlink_tlog: stored 807 pose(s), 0 duplicate(s), 0 record(s) refused" in capsys.readouterr().out


def test_dateless_srt_needs_start(cfg: str, capsys: pytest.CaptureFixture[str]) -> None:
    srt = str(shared_path("samples", "dji_srt", "dji_mavic_mini.srt"))
    assert main(["-c", cfg, "telemetry", "import", srt, "--device", "drone-01"]) == 2
    assert "--start" in capsys.readouterr().err
    code, out = _run(cfg, capsys, srt, "--device", "drone-01", "--start", "2024-05-01T10:00:00")
    assert (code, out["stored"]) == (0, 117)


def test_refusals_are_reported_by_reason(cfg: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "flight.SRT"
    f.write_text("1\n00:00:00,000 --> 00:00:01,000\n2022.06.21 16:06:17\nGPS(0.0,0.0,0.0M) BAROMETER:0.3M\n\n"
                 "2\n00:00:01,000 --> 00:00:02,000\n2022.06.21 16:06:18\nno telemetry here\n\n"
                 "junk\n")
    code, out = _run(cfg, capsys, str(f), "--device", "drone-01")
    assert (code, out["stored"], out["without_fix"], out["refused"]) == (0, 1, 1, 2)
    assert out["refused_by_reason"]["unparsable_cue"]["count"] == 2
    assert out["positions_refused_by_reason"]["no_position"]["examples"] == [
        "line 2: GPS 0,0 is DJI's no-fix value (GPS(0.0,0.0,0.0M))"]


@pytest.mark.parametrize(("content", "args", "message"), [
    (b"1\n00:00:00,000 --> 00:00:01,000\n2022.06.21 16:06:17\nGPS(36.6,-6.1,0.0M)\n", ["--device", "nobody"],
     "device 'nobody' is not registered"),
    (b"PK\x03\x04 not telemetry", ["--device", "drone-01"], "not a DJI SRT or a MAVLink tlog"),
    (b"1\n00:00:00,000 --> 00:00:01,000\n", ["--device", "drone-01", "--tz", "Mars/Olympus"], "IANA time zone"),
    (b"1\n00:00:00,000 --> 00:00:01,000\n", ["--device", "drone-01", "--start", "yesterday"], "ISO 8601"),
])
def test_unusable_input_is_refused(cfg: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes,
                                   args: list[str], message: str) -> None:
    f = tmp_path / "in.srt"
    f.write_bytes(content)
    assert main(["-c", cfg, "telemetry", "import", str(f), *args]) == 2
    assert message in capsys.readouterr().err


def test_nothing_stored_exits_1(cfg: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "empty.srt"
    f.write_bytes(b"1\n00:00:00,000 --> 00:00:01,000\n2022.06.21 16:06:17\nnothing\n")
    code, out = _run(cfg, capsys, str(f), "--device", "drone-01")
    assert (code, out["stored"], out["refused"]) == (1, 0, 1)


def test_store_poses_batches_and_duplicates_within_a_file(cfg: str, db_url: str) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    poses = [Pose(time=t0 + timedelta(seconds=i // 2), device_id="drone-01", lat=22.5, lon=113.9, source="srt",
                  extra={"cue": i}) for i in range(10)]  # every time twice
    with psycopg.connect(db_url) as conn:
        counts = store_poses(conn, poses, batch_size=3)
        assert (counts.stored, counts.duplicate) == (5, 5)
        with pytest.raises(UnknownDeviceError):
            store_poses(conn, [Pose(time=t0, device_id="ghost")])
        assert conn.execute("SELECT count(*) FROM poses").fetchone()[0] == 5
