"""`enforcegw demo`: the pure signal generators, the simulated clock, the sample devices, and one run of the
whole command against a real PostgreSQL and a real Mosquitto."""

from __future__ import annotations

import itertools
import json
import math
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import psycopg
import pytest
import yaml
from rich.console import Console

from gateway.catalogue import load_catalogue, zone_kinds
from gateway.config import Settings
from gateway.demo import fleet, video_patrol
from gateway.demo.clock import LOCAL_TZ, SimClock, sim_start
from gateway.demo.curves import local_hour
from gateway.demo.dust import CONSTRUCTION_DUST, dust_samples
from gateway.demo.fume import BARBECUE, FUME_LIMIT, RESTAURANT, fume_samples
from gateway.demo.noise import CONSTRUCTION_SITE, RESIDENTIAL, noise_samples
from gateway.demo.render import render_line, render_rich
from gateway.demo.route import DOCK, PATROL, loop_length_m, sortie_poses
from gateway.demo.scenario import DOCK_OSD_EVERY_S, scenario
from gateway.demo.stats import DeviceLatest, Snapshot, StoreView, histogram_quantile
from gateway.demo.zones import demo_zones
from gateway.devices import validate_devices
from gateway.metrics import Metrics
from geo.geodesy import bearing_deg, distance_m
from geo.geojson_io import load_zones
from geo.registry import ZoneRegistry
from ingest.decode import ParseLimits
from ingest.router import parse_message

START = datetime(2026, 11, 20, 17, 30, tzinfo=LOCAL_TZ)  # the default simulated start, a fixed day
DAY = 24 * 3600


def _local(t: datetime) -> datetime:
    return t.astimezone(LOCAL_TZ)


def _sliding_leq(samples: list[tuple[datetime, dict[str, float]]], window: int) -> list[tuple[datetime, float]]:
    """(window end, LAeq over the last `window` 1-s samples), every 60 samples, via energy prefix sums."""
    energy = [0.0, *itertools.accumulate(10 ** (v["LAeq"] / 10) for _, v in samples)]
    return [(samples[i - 1][0], 10 * math.log10((energy[i] - energy[i - window]) / window))
            for i in range(window, len(samples) + 1, 60)]


def _is_night(t: datetime) -> bool:
    return not 6 <= local_hour(t) < 22



@pytest.mark.parametrize("now_local", ["2026-11-22T15:55", "2026-11-22T17:31", "2026-11-22T00:10",
                                       "2026-11-22T17:29:59"])
def test_sim_start_is_the_chosen_local_time_at_least_a_day_ago(now_local: str) -> None:
    now = datetime.fromisoformat(now_local).replace(tzinfo=LOCAL_TZ)
    start = sim_start(now.astimezone(UTC))
    assert _local(start).time() == dtime(17, 30)
    assert timedelta(hours=24) <= now - start < timedelta(hours=48)


def test_sim_clock_runs_fast_then_never_ahead_of_real_time() -> None:
    wall = [1_795_000_000.0]
    real = lambda: datetime.fromtimestamp(wall[0], UTC)  # noqa: E731
    clock = SimClock(real() - timedelta(hours=24), speed=120, wall=lambda: wall[0])
    previous = clock.now()
    for i in range(2000):  # 2000 x 1 s real: 66 simulated hours wanted, only 24 h + 2000 s available
        wall[0] += 1.0
        now = clock.now()
        assert previous <= now <= real()
        if i == 29:
            assert now - clock.start == timedelta(hours=1) and not clock.caught_up()  # 120x
        previous = now
    assert clock.caught_up() and clock.now() == real()
    wall[0] += 10.0
    assert clock.now() == real()  # after catching up it runs at 1x



@pytest.fixture(scope="module")
def site_noise() -> list[tuple[datetime, dict[str, float]]]:
    return list(noise_samples(CONSTRUCTION_SITE, START, seed=7, end=START + timedelta(seconds=DAY)))


def test_night_construction_exceedance_only_in_its_window(site_noise: list) -> None:
    leq20 = _sliding_leq(site_noise, 1200)  # GB 12523: 20-min LAeq
    in_episode = [v for t, v in leq20 if dtime(23, 30) <= _local(t).time() <= dtime(23, 40)]
    assert in_episode and min(in_episode) > 55 + 7, "night work must be well above the 55 dB(A) night limit"
    # The episode (23:10-23:40 plus 2-min ramps) affects windows ending 23:08..00:02; elsewhere at night: quiet.
    affected = lambda t: _local(t).time() >= dtime(23, 8) or _local(t).time() < dtime(0, 3)  # noqa: E731
    night_rest = [v for t, v in leq20 if _is_night(t) and not affected(t)]
    assert night_rest and max(night_rest) < 55 - 1
    day = [v for t, v in leq20 if not _is_night(t)]
    assert 62 < max(day) < 70 - 1, "the site audibly works by day, within the GB 12523 day limit 70"


def test_night_lmax_outside_episode_stays_below_limit(site_noise: list) -> None:
    for t, v in site_noise:
        lt = _local(t).time()
        assert v["LAmax"] >= v["LAeq"]
        if _is_night(t) and not dtime(23, 7) <= lt <= dtime(23, 43):
            assert v["LAmax"] < 70, f"LAmax {v['LAmax']} at {lt} would be a spurious GB 12523 Lmax clue"


def test_residential_noise_is_quiet_and_noise_is_deterministic_for_a_seed() -> None:
    leq20 = _sliding_leq(list(noise_samples(RESIDENTIAL, START, seed=7, end=START + timedelta(seconds=DAY))), 1200)
    assert max(v for t, v in leq20 if local_hour(t) >= 23 or local_hour(t) < 5) < 45, "GB 3096 class 1 night"
    assert max(v for _, v in leq20) < 60
    a, b, c = (list(itertools.islice(noise_samples(CONSTRUCTION_SITE, START, seed=s), 500)) for s in (3, 3, 4))
    assert a == b and a != c



def _exceedances(profile: object, seed: int) -> list[tuple[datetime, datetime]]:
    """Spans where the 10-min mean (GB 18483 rule window) is above 2.0 mg/m3."""
    samples = list(fume_samples(profile, START, seed, end=START + timedelta(seconds=DAY)))  # type: ignore[arg-type]
    means = [(samples[i - 1][0], sum(v["oil_fume"] for _, v in samples[i - 10:i]) / 10 > FUME_LIMIT)
             for i in range(10, len(samples) + 1)]
    runs = [list(g) for over, g in itertools.groupby(means, key=lambda m: m[1]) if over]
    return [(run[0][0], run[-1][0] + timedelta(minutes=1)) for run in runs]


@pytest.mark.parametrize("seed", [1, 7, 42])
@pytest.mark.parametrize(("profile", "earliest", "latest"), [(RESTAURANT, dtime(18, 20), dtime(19, 20)),
                                                             (BARBECUE, dtime(21, 40), dtime(22, 40))])
def test_fume_exceedance_lasts_20_minutes_in_its_window(seed: int, profile: object, earliest: dtime,
                                                         latest: dtime) -> None:
    [(begin, end)] = _exceedances(profile, seed)  # one episode, nothing else all day
    assert end - begin >= timedelta(minutes=20)
    assert earliest <= _local(begin).time() and _local(end).time() <= latest


def test_dust_episode_in_the_evening_only() -> None:
    samples = list(dust_samples(CONSTRUCTION_DUST, START, seed=7, end=START + timedelta(seconds=DAY)))
    episode = [v["PM10"] for t, v in samples if dtime(20, 50) <= _local(t).time() <= dtime(21, 30)]
    rest = [v["PM10"] for t, v in samples if not dtime(20, 20) <= _local(t).time() <= dtime(22, 0)]
    assert min(episode) > 200 and max(rest) < 150
    assert all(v["PM2.5"] < v["PM10"] for _, v in samples)



def test_patrol_is_a_closed_loop_with_plausible_speeds_heading_and_attitude() -> None:
    assert PATROL[0] == PATROL[-1] == DOCK and 3000 < loop_length_m() < 8000
    assert all(abs(lat - 23.03) < 0.02 and abs(lon - 113.14) < 0.02 for lat, lon in PATROL)
    poses = list(sortie_poses(START + timedelta(minutes=10), seed=1, laps=2))
    assert (poses[0].lat, poses[0].lon) == DOCK == (poses[-1].lat, poses[-1].lon)
    assert poses[0].alt_rel_m == 0 and poses[-1].alt_rel_m == 0
    assert max(p.alt_rel_m for p in poses) == 120
    assert poses[-1].t - poses[0].t < timedelta(minutes=40), "within an M30T battery"
    mismatched = 0
    for a, b in itertools.pairwise(poses):
        assert b.t - a.t == timedelta(seconds=1)
        horizontal = distance_m(a.lon, a.lat, b.lon, b.lat)
        assert horizontal <= 10.5 and abs(b.alt_rel_m - a.alt_rel_m) <= 5.0
        if horizontal > 5:
            heading_error = (bearing_deg(a.lon, a.lat, b.lon, b.lat) - b.yaw + 180) % 360 - 180
            mismatched += abs(heading_error) > 3
    cruise = [p for p in poses if p.speed_mps > 0]
    assert all(p.gimbal_pitch == -45 for p in poses) and all(p.alt_rel_m == 120 for p in cruise)
    assert len(cruise) == pytest.approx(2 * loop_length_m() / 10, abs=2), "two laps at 10 m/s"
    assert mismatched <= 2 * len(PATROL), "heading follows the track except at the corners"



def test_scenario_messages_parse_in_order_for_registered_devices() -> None:
    start = START.astimezone(UTC)
    messages = list(itertools.takewhile(lambda m: m.t < start + timedelta(hours=1), scenario(start, 7)))
    assert [m.t for m in messages] == sorted(m.t for m in messages)
    seen: set[str] = set()
    for m in messages:  # the gateway's own parser: nothing the demo sends may be dead-lettered
        parsed = parse_message(m.topic, json.dumps(m.payload).encode(), start + timedelta(hours=2), ParseLimits())
        seen |= {r.device_id for r in parsed.readings} | {p.device_id for p in parsed.poses}
    assert seen == set(fleet.ALL)
    again = list(itertools.islice(scenario(start, 7), 300))
    assert [(m.topic, m.payload) for m in again] == [(m.topic, m.payload) for m in messages[:300]]


def test_sample_devices_are_valid_and_one_sensor_is_inadmissible() -> None:
    specs, errors = validate_devices(fleet.device_rows())
    assert not errors and {s.id for s in specs} == set(fleet.REGISTERED)
    today = datetime(2026, 11, 22, tzinfo=LOCAL_TZ)
    expired = [s.id for s in specs if s.calibration_deadline() and s.calibration_deadline() < today]
    assert expired == [fleet.FUME_BARBECUE]
    dock = next(s.location for s in specs if s.id == fleet.DOCK)
    assert dock is not None and (dock.lat, dock.lon) == DOCK
    assert all(s.legal_review_ref and s.technical_review_ref and s.public_notice for s in specs)
    for s in (s for s in specs if s.kind == "sensor"):
        assert s.calibration_cert and s.location and abs(s.location.lat - 23.03) < 0.02
        assert abs(s.location.lon - 113.14) < 0.02


def test_demo_zones_contain_their_devices() -> None:
    result = load_zones(demo_zones(), kinds=zone_kinds(load_catalogue(Settings())))  # as the demo imports them
    assert not result.problems
    registry = ZoneRegistry(result.zones)
    kinds = {s.id: {z.kind for z in registry.zones_at(s.location.lon, s.location.lat)}
             for s in validate_devices(fleet.device_rows())[0] if s.location}
    assert "construction_site" in kinds[fleet.NOISE_SITE] and "construction_site" in kinds[fleet.DUST_SITE]
    assert "noise_class_1" in kinds[fleet.NOISE_RESIDENTIAL]
    assert "catering" in kinds[fleet.FUME_RESTAURANT] and "catering" in kinds[fleet.FUME_BARBECUE]
    assert all("patrol_area" in k for k in kinds.values())


def test_summary_renders_alerts_inadmissible_devices_and_flush_p50() -> None:
    t = START.astimezone(UTC)
    alert = {"clue_code": "440605-20261120-0002", "kind": "oil_fume", "device_id": fleet.FUME_BARBECUE,
             "rule_id": "gb18483_2001.oil_fume", "peak_value": 2.91, "limit_value": 2.0, "start_time": t,
             "end_time": None, "status": "new", "admissible": False, "inadmissible_reasons": ["calibration_expired"],
             "evidence_open_idx": 12, "evidence_end_idx": None}
    snap = Snapshot(sim_time=t, caught_up=False, published=10, acked=9, readings_stored=8, poses_stored=1,
                    dead_letters={"bad_timestamp": 1}, queue_depth=0, flush_p50_ms=5.0,
                    devices=[DeviceLatest(fleet.FUME_BARBECUE, "sensor", False, {"oil_fume": 2.9}, t)], alerts=[alert])
    line = render_line(snap)
    assert "sim 2026-11-20 17:30:00" in line and "dead letters bad_timestamp=1" in line
    assert "440605-20261120-0002" in line and "no calibration_expired" in line and " open " in line
    assert "#12" in line, "the alert's evidence entry is shown"
    (console := Console(record=True, width=220)).print(render_rich(snap))
    text = console.export_text(clear=False)
    assert all(x in text for x in ("calibration expired", "alerts (1 newest", "oil_fume 2.9", "#12"))
    m = Metrics()  # the flush p50 comes from the gateway's histogram buckets
    assert histogram_quantile(m, "enforcegw_flush_seconds", 0.5) is None
    for v in (0.002, 0.003, 0.004, 0.02, 0.3):
        m.flush_seconds.observe(v)
    assert histogram_quantile(m, "enforcegw_flush_seconds", 0.5) == 0.005



@pytest.mark.integration
def test_recent_alerts_come_with_their_evidence_entries(db_url: str) -> None:
    view = StoreView(db_url, fleet.ALL)
    try:
        assert view.recent_alerts() == [] and view.checkpoint_size() is None
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("INSERT INTO devices (id, kind, name) VALUES (%s, 'sensor', 'x')", (fleet.NOISE_SITE,))
            conn.execute(
                "INSERT INTO alerts (clue_code, engine_alert_id, source, kind, rule_id, device_id, subject_code,"
                " start_time, peak_time, severity, admissible, evidence_open_idx, end_time, evidence_end_idx, detail)"
                " VALUES ('A1', 'e1', 'sensor', 'construction_noise', 'r', %s, '440605', now(), now(), 'high', true,"
                " 3, now(), 9, '{\"peak_value\": 65.2, \"limit_value\": 55}')", (fleet.NOISE_SITE,))
        (a,) = view.recent_alerts()
        assert (a["clue_code"], a["evidence_open_idx"], a["evidence_end_idx"]) == ("A1", 3, 9)
        assert (a["peak_value"], a["limit_value"]) == (65.2, 55.0)
    finally:
        view.close()


def _config(tmp_path: Path, db_url: str, mqtt_url: str) -> Path:
    config = tmp_path / "demo.yaml"
    config.write_text(yaml.safe_dump({
        "data_dir": str(tmp_path / "data"), "database": {"url": db_url}, "ingest": {"batch_max_ms": 50},
        "mqtt": {"url": mqtt_url, "client_id": f"demo-test-{tmp_path.name[-8:]}", "session_expiry_s": 60},
        "api": {"listen": "127.0.0.1:0"}}))
    return config


@pytest.mark.integration
def test_demo_command_stores_readings_and_poses(tmp_path: Path, db_url: str, private_mosquitto: str) -> None:
    from gateway.cli import main

    config = _config(tmp_path, db_url, private_mosquitto)
    started = datetime.now(UTC)
    assert main(["-c", str(config), "demo", "--duration", "8", "--speed", "600", "--no-ui", "--seed", "3"]) == 0
    with psycopg.connect(db_url) as conn:
        per_device = dict(conn.execute("SELECT device_id, count(*) FROM readings GROUP BY device_id").fetchall())
        poses = dict(conn.execute("SELECT device_id, count(*) FROM poses GROUP BY device_id").fetchall())
        assert conn.execute("SELECT reason, detail FROM dead_letters LIMIT 5").fetchall() == []
        newest = conn.execute("SELECT max(time) FROM readings").fetchone()[0]
        first, last = conn.execute("SELECT min(time), max(time) FROM readings WHERE device_id = %s",
                                   (fleet.NOISE_SITE,)).fetchone()
    assert set(per_device) == set(fleet.SENSORS)
    # 8 s at 600x is up to 80 simulated minutes (less on a loaded machine: simulated time never runs ahead of the
    # publisher). Whatever span was covered holds every 1-s noise sample (2 metrics) and the 1-min fume samples.
    span_s = (last - first).total_seconds()
    assert span_s >= 12 * 60, f"only {span_s:.0f} simulated seconds in 8 s"
    assert per_device[fleet.NOISE_SITE] >= 2 * 0.98 * span_s and per_device[fleet.FUME_RESTAURANT] >= span_s / 60 * 0.8
    assert poses.get(fleet.DRONE, 0) > 100, "the 17:40 patrol was flown"
    assert poses.get(fleet.DOCK, 0) >= span_s / DOCK_OSD_EVERY_S * 0.8, "the dock reported its place each minute"
    assert newest < started, "simulated time stays in the past"
    if video_patrol.unavailable() is None:  # the patrol video's parked car, found by the shipped model
        with psycopg.connect(db_url) as conn:
            video = conn.execute("SELECT kind, zone_id, subject_code, detail->>'object_kind', end_time IS NOT NULL"
                                 " FROM alerts WHERE source = 'video'").fetchall()
        assert ("illegal_parking", video_patrol.NO_PARKING_ID, "440605", "car", True) in video, video
        # the other hovers and the market camera raise theirs when the model sees their kinds (model card)
        assert {v[0] for v in video} <= {"illegal_parking", "boat_in_river", "open_burning", "street_vending"}


@pytest.mark.integration
def test_sigterm_stops_the_demo_cleanly(tmp_path: Path, db_url: str, private_mosquitto: str) -> None:
    config = _config(tmp_path, db_url, private_mosquitto)
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "-c", str(config), "demo", "--speed", "300"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in proc.stdout or ():  # stdout is a pipe: plain summary lines, no live table
            if line.startswith("sim ") and " readings 0 " not in line:
                break
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "demo.finished" in out and "gateway.stopped" in out
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM readings").fetchone()[0] > 0
