"""Zones through the store and the CLI: import (WGS84, GCJ-02 DataV), export, locate, device placement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from shapely.geometry import shape

from gateway.cli import main
from gateway.devices import import_devices
from gateway.store.zones import load_all_zones
from geo.crs import gcj02_to_wgs84
from testkit.paths import REPO, shared_path

pytestmark = pytest.mark.integration


def _square(lon: float, lat: float, d: float) -> list:
    # counter-clockwise exterior, as RFC 7946 asks
    return [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]]


def _feature(zid: str, kind: str, coords: list, **props: object) -> dict:
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": coords},
            "properties": {"id": zid, "name": zid, "kind": kind, **props}}


@pytest.fixture
def env_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ENFORCEGW_DATABASE__URL", db_url)
    return db_url


def test_foshan_districts_import_as_gcj02_and_route_points(
    env_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foshan = shared_path("samples", "geo", "foshan_districts_440600_full.geojson")
    assert main(["zones", "import", str(foshan), "--crs", "gcj02"]) == 0
    out = capsys.readouterr().out
    assert "imported 5 zone(s), 0 feature(s) rejected" in out
    with psycopg.connect(env_db) as conn:
        zones = {z.id: z for z in load_all_zones(conn)}
    assert {z.kind for z in zones.values()} == {"jurisdiction"}
    assert all(z.source_crs == "gcj02" for z in zones.values())
    # a point well inside each district (found in GCJ-02, converted to WGS84) routes to that district
    doc = json.loads(foshan.read_text(encoding="utf-8"))
    for feature in doc["features"]:
        p = shape(feature["geometry"]).representative_point()
        lon, lat = gcj02_to_wgs84(p.x, p.y)
        code = str(feature["properties"]["adcode"])
        assert main(["zones", "locate", str(lon), str(lat)]) == 0
        assert f"jurisdiction: {code} " in capsys.readouterr().out


def test_invalid_features_reported_and_valid_ones_stored(
    env_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bowtie = [[[113.0, 23.0], [113.1, 23.1], [113.1, 23.0], [113.0, 23.1], [113.0, 23.0]]]
    fc = {"type": "FeatureCollection", "features": [
        _feature("ok-1", "no_parking", _square(113.0, 23.0, 0.01)),
        _feature("bad-kind", "no_picnics", _square(113.0, 23.0, 0.01)),
        _feature("bowtie", "no_vending", bowtie),
        _feature("swapped", "no_parking", [[[23.0, 113.0], [23.01, 113.0], [23.01, 113.01], [23.0, 113.0]]]),
    ]}
    f = tmp_path / "zones.geojson"
    f.write_text(json.dumps(fc))
    assert main(["zones", "import", str(f)]) == 1
    err = capsys.readouterr().err
    assert "feature 1 (bad-kind)" in err and "feature 2 (bowtie)" in err and "feature 3 (swapped)" in err
    with psycopg.connect(env_db) as conn:
        assert [z.id for z in load_all_zones(conn)] == ["ok-1"]
    # --fix repairs the bow-tie and says so
    assert main(["zones", "import", str(f), "--fix"]) == 1
    out = capsys.readouterr().out
    assert "feature 2 (bowtie): fixed" in out
    with psycopg.connect(env_db) as conn:
        assert {z.id for z in load_all_zones(conn)} == {"ok-1", "bowtie"}


def test_export_round_trip_in_wgs84_and_gcj02(env_db: str, tmp_path: Path) -> None:
    fc = {"type": "FeatureCollection", "features": [
        _feature("np-1", "no_parking", _square(113.12, 23.02, 0.002), priority=5,
                 schedule={"tz": "Asia/Shanghai", "weekdays": [1, 2, 3, 4, 5],
                           "hours": [{"start": "22:00", "end": "06:00"}]}),
    ]}
    src = tmp_path / "in.geojson"
    src.write_text(json.dumps(fc))
    assert main(["zones", "import", str(src)]) == 0
    wgs, gcj = tmp_path / "wgs.geojson", tmp_path / "gcj.geojson"
    assert main(["zones", "export", "-o", str(wgs)]) == 0
    assert main(["zones", "export", "-o", str(gcj), "--crs", "gcj02"]) == 0
    out = json.loads(wgs.read_text())
    assert out["features"][0]["properties"]["schedule"]["hours"][0]["start"] == "22:00"
    a = shape(out["features"][0]["geometry"])
    assert a.equals_exact(shape(fc["features"][0]["geometry"]), 1e-7)
    b = shape(json.loads(gcj.read_text())["features"][0]["geometry"])
    assert 0.002 < a.centroid.distance(b.centroid) < 0.01  # the GCJ-02 offset, hundreds of metres
    # importing the GCJ-02 export back with --crs gcj02 lands where we started (sub-metre)
    assert main(["zones", "import", str(gcj), "--crs", "gcj02"]) == 0
    with psycopg.connect(env_db) as conn:
        back = shape(load_all_zones(conn)[0].geometry)
    assert back.centroid.distance(a.centroid) < 1e-5


def test_device_import_takes_jurisdiction_from_zones(env_db: str, tmp_path: Path) -> None:
    fc = {"type": "FeatureCollection", "features": [
        _feature("440605", "jurisdiction", _square(113.0, 22.9, 0.3), priority=30,
                 enforcement_subject={"code": "440605", "name": "南海区综合行政执法局"}),
        _feature("cs-1", "construction_site", _square(113.1, 23.0, 0.01)),
    ]}
    f = tmp_path / "z.geojson"
    f.write_text(json.dumps(fc))
    assert main(["zones", "import", str(f)]) == 0
    rows = [
        {"id": "n1", "kind": "sensor", "name": "site noise", "location": {"lon": 113.105, "lat": 23.005}},
        {"id": "n2", "kind": "sensor", "name": "far away", "location": {"lon": 116.4, "lat": 39.9}},
        {"id": "n3", "kind": "sensor", "name": "declared", "location": {"lon": 113.105, "lat": 23.005},
         "jurisdiction": "440604"},
    ]
    with psycopg.connect(env_db) as conn:
        result = import_devices(conn, rows)
        got = {r[0]: r[1:] for r in conn.execute("SELECT id, jurisdiction, jurisdiction_status, zone_ids FROM devices")}
    assert got["n1"][:2] == ("440605", "assigned")
    assert set(got["n1"][2]) == {"440605", "cs-1"}
    assert got["n2"] == (None, "unassigned", [])
    assert got["n3"][:2] == ("440604", "declared")
    assert result.unassigned == ["n2"]


def _cli(db_url: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """The command in a process of its own, as an operator runs it: nothing another command loaded is there."""
    env = {**os.environ, "ENFORCEGW_DATABASE__URL": db_url}
    return subprocess.run([sys.executable, "-m", "gateway.cli", *argv], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)


def test_zones_of_catalogue_kinds_locate_and_export(
    env_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`catering` is a kind only the rule catalogue names. Stored, it is trusted as stored: locate and export
    read it back in any process, without loading the catalogue first."""
    fc = {"type": "FeatureCollection", "features": [
        _feature("440605", "jurisdiction", _square(113.0, 22.9, 0.3), priority=30,
                 enforcement_subject={"code": "440605", "name": "南海区综合行政执法局"}),
        _feature("cat-1", "catering", _square(113.2, 23.0, 0.01)),
    ]}
    f = tmp_path / "z.geojson"
    f.write_text(json.dumps(fc))
    assert main(["zones", "import", str(f)]) == 0
    assert "imported 2 zone(s), 0 feature(s) rejected" in capsys.readouterr().out
    located = _cli(env_db, "zones", "locate", "113.205", "23.005")
    assert located.returncode == 0, located.stderr
    assert "catering" in located.stdout and "cat-1" in located.stdout and "jurisdiction: 440605" in located.stdout
    out = tmp_path / "out.geojson"
    exported = _cli(env_db, "zones", "export", "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    assert {f["properties"]["kind"] for f in json.loads(out.read_text())["features"]} == {"jurisdiction", "catering"}
    # and in this process too, whatever ran before
    assert main(["zones", "locate", "113.205", "23.005"]) == 0
    assert "cat-1" in capsys.readouterr().out


def test_import_refuses_kinds_neither_built_in_nor_in_the_catalogue(
    env_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fc = {"type": "FeatureCollection", "features": [_feature("x-1", "karaoke", _square(113.2, 23.0, 0.01))]}
    f = tmp_path / "z.geojson"
    f.write_text(json.dumps(fc))
    assert main(["zones", "import", str(f)]) == 1
    assert "feature 0 (x-1): error unknown_kind: unknown kind 'karaoke'" in capsys.readouterr().err


def test_a_configured_catalogue_declares_its_own_zone_kinds(
    env_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shipped = (REPO / "detectors" / "sensors" / "catalogue.yaml").read_text(encoding="utf-8")
    catalogue = tmp_path / "catalogue.yaml"
    catalogue.write_text(shipped.replace("catering", "karaoke_bar"), encoding="utf-8")
    config = tmp_path / "gw.yaml"
    config.write_text(f"alerts:\n  catalogue: {catalogue}\n")
    fc = {"type": "FeatureCollection", "features": [
        _feature("k-1", "karaoke_bar", _square(113.2, 23.0, 0.01)),
        _feature("cat-1", "catering", _square(113.3, 23.0, 0.01)),
    ]}
    f = tmp_path / "z.geojson"
    f.write_text(json.dumps(fc))
    assert main(["-c", str(config), "zones", "import", str(f)]) == 1
    captured = capsys.readouterr()
    assert "imported 1 zone(s), 1 feature(s) rejected" in captured.out
    assert "feature 1 (cat-1): error unknown_kind" in captured.err
