"""`enforcegw analyze`: a recorded flight with its .SRT goes through the live reader, pairing and frame stage;
the video's clock comes from the telemetry (cue time minus cue offset), every sampled frame is placed, and its
ground centre is counted in the zones it lies in. Without telemetry the frames flow unplaced, saying why."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest

from gateway.cli import main
from testkit.gateway_harness import register
from testkit.video_media import make_h264

LAT0, LON0 = 23.0200, 113.1200  # Foshan, Chancheng
START_LOCAL = datetime(2026, 5, 4, 10, 0, 0)  # DJI writes local time (Asia/Shanghai)


def bracketed_srt(seconds: float, *, with_date: bool = True, step_deg: float = 0.0004) -> str:
    """A DJI-style bracketed .SRT, one cue per 0.1 s, flying north at `step_deg` latitude per second."""
    cues = []
    for i in range(round(seconds * 10)):
        t0, t1 = i * 100, (i + 1) * 100
        when = START_LOCAL + timedelta(milliseconds=t0)
        lat = LAT0 + step_deg * t0 / 1000
        date = f"{when:%Y-%m-%d %H:%M:%S}.{when.microsecond // 1000:03d}\n" if with_date else ""
        cues.append(
            f"{i + 1}\n00:00:{t0 // 1000:02d},{t0 % 1000:03d} --> 00:00:{t1 // 1000:02d},{t1 % 1000:03d}\n"
            f'<font size="28">FrameCnt: {i + 1}, DiffTime: 100ms\n{date}'
            f"[iso: 100] [shutter: 1/1000.0] [fnum: 2.8] [ev: 0] [focal_len: 24.00] "
            f"[latitude: {lat:.6f}] [longitude: {LON0:.6f}] [rel_alt: 100.000 abs_alt: 120.000] "
            f"[gb_yaw: 0.0 gb_pitch: -90.0 gb_roll: 0.0] </font>\n")
    return "\n".join(cues)


def zone_north_of(lat: float) -> dict:
    ring = [[LON0 - 0.01, lat], [LON0 + 0.01, lat], [LON0 + 0.01, lat + 0.05], [LON0 - 0.01, lat + 0.05],
            [LON0 - 0.01, lat]]
    return {"type": "FeatureCollection", "features": [{
        "type": "Feature", "id": "river-1",
        "properties": {"id": "river-1", "name": "protected section", "kind": "river_protection"},
        "geometry": {"type": "Polygon", "coordinates": [ring]}}]}


def run_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = main(args)
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1]) if out else {}


@pytest.fixture
def flight(tmp_path: Path) -> tuple[Path, Path]:
    video = make_h264(tmp_path / "DJI_0001.MP4", seconds=4.0, fps=25)
    srt = tmp_path / "DJI_0001.SRT"
    srt.write_text(bracketed_srt(4.0).replace("\n", "\r\n"), encoding="utf-8")
    return video, srt


def test_a_flight_with_its_srt_is_timed_placed_and_counted_in_zones(
        flight: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video, srt = flight
    zones = tmp_path / "zones.geojson"
    zones.write_text(json.dumps(zone_north_of(LAT0 + 0.0004 * 2.0)))  # the second half of the flight
    code, out = run_json(["analyze", str(video), "--telemetry", str(srt), "--zones", str(zones), "--hfov", "80",
                          "--json"], capsys)
    assert code == 0, out
    assert out["telemetry"]["format"] == "dji_srt_bracketed" and out["telemetry"]["poses"] == 40
    assert out["start_from"] == "telemetry"
    assert datetime.fromisoformat(out["start"]) == START_LOCAL.replace(tzinfo=UTC) - timedelta(hours=8)
    assert out["frames_decoded"] == 100 and out["frames_kept"] == 20  # 25 fps sampled to 5
    assert out["time_source"] == "file"
    assert out["placed"] == 20 and out["unplaced"] == {}
    assert out["on_ground"] == 20
    # Frames 0.0-1.8 s are south of the zone, 2.0-3.8 s inside (the nadir centre is under the drone).
    assert out["zones"] == {"river-1": 10} and out["outside_zones"] == 10
    first, last = datetime.fromisoformat(out["first_time"]), datetime.fromisoformat(out["last_time"])
    assert last - first == timedelta(seconds=3.8)


def test_without_telemetry_frames_flow_unplaced_and_say_why(flight: tuple[Path, Path],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    video, _ = flight
    code, out = run_json(["analyze", str(video), "--start", "2026-05-04T10:00:00", "--json"], capsys)
    assert code == 0
    assert out["start_from"] == "--start" and out["placed"] == 0 and out["unplaced"] == {"no_telemetry": 20}
    assert datetime.fromisoformat(out["first_time"]) == datetime(2026, 5, 4, 2, 0, tzinfo=UTC)


def test_frames_beyond_the_pose_gap_stay_unplaced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video = make_h264(tmp_path / "long.mp4", seconds=4.0, fps=25)
    srt = tmp_path / "short.srt"
    srt.write_text(bracketed_srt(1.0), encoding="utf-8")  # telemetry covers the first second only
    code, out = run_json(["analyze", str(video), "--telemetry", str(srt), "--json"], capsys)
    assert code == 0
    assert out["placed"] + sum(out["unplaced"].values()) == 20
    assert 5 <= out["placed"] <= 10 and set(out["unplaced"]) == {"pose_gap"}
    assert out["not_on_ground"].get("no_intrinsics") == out["placed"]  # no --hfov: placed but not projected


@pytest.mark.parametrize(("args", "message"), [
    (["--fps", "0"], "--fps must be positive"),
    (["--tz", "Mars/Olympus"], "unknown time zone"),
    (["--start", "yesterday"], "not an ISO 8601 time"),
])
def test_bad_options_are_named(flight: tuple[Path, Path], args: list[str], message: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    video, _ = flight
    assert main(["analyze", str(video), *args]) == 2
    assert message in capsys.readouterr().err


def test_a_dateless_srt_needs_a_start(tmp_path: Path, flight: tuple[Path, Path],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    video, _ = flight
    srt = tmp_path / "nodate.srt"
    srt.write_text(bracketed_srt(4.0, with_date=False), encoding="utf-8")
    assert main(["analyze", str(video), "--telemetry", str(srt)]) == 2
    assert "--start" in capsys.readouterr().err
    code, out = run_json(["analyze", str(video), "--telemetry", str(srt), "--start", "2026-05-04T10:00:00",
                          "--json"], capsys)
    assert code == 0 and out["placed"] == 20


def test_a_file_that_is_not_a_video_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    assert main(["analyze", str(bad)]) == 2
    assert "notes.mp4" in capsys.readouterr().err


@pytest.mark.integration
def test_detect_runs_the_detection_stage_over_the_store(flight: tuple[Path, Path], tmp_path: Path, db_url: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("ultralytics", reason="detection needs the vision extra")
    from detectors.video.detector import SHIPPED_WEIGHTS
    if not SHIPPED_WEIGHTS.exists():
        pytest.skip("the shipped weights are not built")
    video, srt = flight
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(json.dumps({"data_dir": str(tmp_path / "data"), "database": {"url": db_url},
                               "detection": {"enabled": True, "plates": False}}))
    register(db_url, "drone-8", kind="drone")
    code, out = run_json(["-c", str(cfg), "analyze", str(video), "--telemetry", str(srt), "--hfov", "80",
                          "--detect", "--device", "drone-8", "--json"], capsys)
    assert code == 0, out
    alerts = out["alerts"]
    # a drone flight: the aligned gate sees every kept frame, inferring the first at least
    assert alerts["frames_inferred"] >= 1 and alerts["frames_inferred"] + alerts["frames_skipped"] == 20
    assert out["handler_errors"] == 0
    assert alerts["opened"] == len(alerts["clue_codes"])


def parked_car_scene() -> np.ndarray:
    """A generated nadir view (a seed no training run drew) in which the shipped model sees a labelled car."""
    from detectors.video.detector import Detector
    from detectors.video.synthetic.seen import scene_seen

    image = scene_seen(Detector(), "car", tries=40)
    if image is None:
        pytest.fail("the shipped model sees no car in 40 generated nadir frames")
    return image


def parking_zones() -> dict:
    def ring(d: float) -> list[list[float]]:
        return [[LON0 - d, LAT0 - d], [LON0 + d, LAT0 - d], [LON0 + d, LAT0 + d], [LON0 - d, LAT0 + d],
                [LON0 - d, LAT0 - d]]

    subject = {"code": "440604", "name": "禅城区综合行政执法局"}
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring(0.01)]},
         "properties": {"id": "440604", "kind": "jurisdiction", "name": "禅城区", "enforcement_subject": subject}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring(0.003)]},
         "properties": {"id": "np-1", "kind": "no_parking", "name": "禁停路段", "enforcement_subject": subject}}]}


@pytest.mark.integration
def test_a_hover_over_a_parked_car_becomes_a_parking_alert_whose_evidence_verifies(
        tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("ultralytics", reason="detection needs the vision extra")
    from detectors.video.detector import SHIPPED_WEIGHTS
    if not SHIPPED_WEIGHTS.exists():
        pytest.skip("the shipped weights are not built")
    from testkit.video_media import write_h264
    video = write_h264(tmp_path / "DJI_0002.MP4", [parked_car_scene()] * 150)  # 6 s hovering at 25 fps
    srt = tmp_path / "DJI_0002.SRT"
    srt.write_text(bracketed_srt(6.0, step_deg=0.0), encoding="utf-8")
    zones = tmp_path / "zones.geojson"
    zones.write_text(json.dumps(parking_zones(), ensure_ascii=False), encoding="utf-8")
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(json.dumps({"data_dir": str(tmp_path / "data"), "database": {"url": db_url},
                               "detection": {"enabled": True, "plates": False, "clip_before_s": 1,
                                             "clip_after_s": 1, "rules": {"parking": {"dwell_s": 2.0}}}}))
    register(db_url, "drone-7", kind="drone")
    code, out = run_json(["-c", str(cfg), "analyze", str(video), "--telemetry", str(srt), "--zones", str(zones),
                          "--hfov", "80", "--detect", "--device", "drone-7", "--json"], capsys)
    assert code == 0, out
    alerts = out["alerts"]
    assert alerts["opened"] >= 1 and alerts["ended"] == alerts["opened"], alerts
    assert alerts["frames_skipped"] > alerts["frames_inferred"]  # a hover over a still scene: the gate skips
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT clue_code, kind, zone_id, subject_code, detail->>'object_kind', "
                            "detail->>'camera' FROM alerts WHERE source = 'video'").fetchall()
    # every alert is parking in the no-parking geofence and its jurisdiction; the car is among them (the model may
    # also see another parked vehicle in the view)
    assert {(kind, zone, subject, camera) for _, kind, zone, subject, _, camera in rows} == {
        ("illegal_parking", "np-1", "440604", "drone")}
    assert "car" in {r[4] for r in rows} and {r[4] for r in rows} <= {"car", "truck"}
    bundle = tmp_path / "alert.zip"
    assert main(["-c", str(cfg), "evidence", "export", "--alert", rows[0][0], "-o", str(bundle)]) == 0
    assert main(["-c", str(cfg), "verify", str(bundle)]) == 0


@pytest.mark.integration
def test_detect_names_an_unregistered_device(flight: tuple[Path, Path], tmp_path: Path, db_url: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    video, _ = flight
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(json.dumps({"data_dir": str(tmp_path / "data"), "database": {"url": db_url},
                               "detection": {"enabled": True, "plates": False}}))
    assert main(["-c", str(cfg), "analyze", str(video), "--detect", "--device", "nobody-9"]) == 2
    assert "--device nobody-9: not a registered device" in capsys.readouterr().err
