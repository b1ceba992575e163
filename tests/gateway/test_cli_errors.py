"""Domain errors through the CLI: each is `error: ...` on one line (one per problem), exit 2, no traceback;
anything else is a bug and keeps its traceback; a command module that is missing fails at start."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from gateway import cli
from gateway.cli import build_parser, main


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


def test_a_missing_command_module_fails_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "COMMAND_MODULES", [*cli.COMMAND_MODULES, "gateway.commands.not_written_yet"])
    with pytest.raises(ImportError, match="not_written_yet"):
        build_parser()
    with pytest.raises(ImportError):
        main(["config", "show"])


def test_every_listed_command_module_registers() -> None:
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"run", "config", "migrate", "devices", "demo", "evidence", "zones"} <= set(commands)


@pytest.mark.parametrize(("lon", "lat", "reason"), [
    ("500", "91", "longitude 500.0 is outside [-180, 180]"),
    ("-180.5", "23", "longitude -180.5 is outside [-180, 180]"),
    ("113", "91", "latitude 91.0 is outside [-90, 90]"),
    ("113", "-90.01", "latitude -90.01 is outside [-90, 90]"),
    ("nan", "23", "longitude nan"),
    ("113", "inf", "latitude inf"),
    ("-inf", "23", "longitude -inf"),
])
def test_locate_refuses_an_impossible_point(lon: str, lat: str, reason: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    # refused before the config or the store is looked at: no database needed ("--": "-inf" is no option)
    assert main(["zones", "locate", "--", lon, lat]) == 2
    assert reason in _one_error_line(capsys)


@pytest.mark.integration
@pytest.mark.parametrize(("lon", "lat"), [("180", "90"), ("-180", "-90"), ("0", "0")])
def test_locate_takes_the_edges_of_the_globe(lon: str, lat: str, db_url: str, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ENFORCEGW_DATABASE__URL", db_url)
    assert main(["zones", "locate", lon, lat]) == 1  # no zones stored: a real answer, "unassigned"
    assert "jurisdiction:" in capsys.readouterr().out


@pytest.mark.parametrize(("content", "reason"), [
    (b'{"type": "FeatureCollection", "features": []\xff}', "not UTF-8: byte 0xff at offset 44"),
    (b'{"type": "FeatureCollection",', "not JSON at line 1, column 30"),
    (b'{"type": "Feature"}', "expected a GeoJSON FeatureCollection"),
    (b"[]", "expected a GeoJSON FeatureCollection"),
    (b'{"type": "FeatureCollection", "features": [' + b"9" * 5000 + b"]}", "Exceeds the limit (4300 digits)"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
])
def test_zone_file_that_cannot_be_read(tmp_path: Path, content: bytes, reason: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "zones.geojson"
    f.write_bytes(content)
    assert main(["zones", "import", str(f)]) == 2
    line = _one_error_line(capsys)
    assert str(f) in line and reason in line


@pytest.mark.parametrize(("make", "reason"), [
    (lambda d: d / "absent.geojson", "No such file or directory"),
    (lambda d: d, "Is a directory"),
])
def test_zone_file_missing_or_a_directory(tmp_path: Path, make: object, reason: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    assert main(["zones", "import", str(path)]) == 2
    line = _one_error_line(capsys)
    assert str(path) in line and reason in line


def test_export_to_a_directory_that_does_not_exist(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ENFORCEGW_DATABASE__URL", db_url)
    target = tmp_path / "no" / "such" / "dir" / "z.geojson"
    assert main(["zones", "export", "-o", str(target)]) == 2
    line = _one_error_line(capsys)
    assert str(target) in line and "No such file or directory" in line


def test_every_config_error_is_a_line_naming_file_and_field(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "gw.yaml"
    cfg.write_text("mqtt:\n  client_id: ''\n  url: ftp://x\n")
    assert main(["-c", str(cfg), "zones", "export"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert sorted(err.splitlines()) == [
        f"error: {cfg}: mqtt.client_id: empty: the broker would give the gateway a new session on every start, "
        "and the messages queued while it was down would be lost",
        f"error: {cfg}: mqtt.url: scheme 'ftp' is not one of mqtt://, tcp://, mqtts://, ssl://",
    ]


@pytest.mark.parametrize(("catalogue", "reason"), [
    (None, "No such file or directory"),
    ("rules: [{id: x}]\n", "invalid value(s), first"),
    ("rules: 3\n", "must be a mapping with a `rules` list"),
    ("rules: [unclosed\n", "expected ',' or ']'"),
])
def test_configured_catalogue_that_cannot_be_used(tmp_path: Path, catalogue: str | None, reason: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "catalogue.yaml"
    if catalogue is not None:
        path.write_text(catalogue)
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(f"alerts:\n  catalogue: {path}\n")
    zones = tmp_path / "z.geojson"
    zones.write_text('{"type": "FeatureCollection", "features": []}')
    assert main(["-c", str(cfg), "zones", "import", str(zones)]) == 2
    line = _one_error_line(capsys)
    assert f"alerts.catalogue {path}" in line and reason in line


@pytest.mark.integration
def test_a_validation_error_from_the_store_is_one_line(db_url: str, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """A zone row edited in the database into something the model refuses: export says what, in one line."""
    monkeypatch.setenv("ENFORCEGW_DATABASE__URL", db_url)
    spec = {"id": "z", "kind": "no_parking", "geometry": {"type": "Point", "coordinates": [113.1, 23.0]}}
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO zones (id, kind, name, spec) VALUES ('z', 'no_parking', 'z', %s)",
                     (json.dumps(spec),))
    assert main(["zones", "export"]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("error: invalid Zone: geometry: ") and "Polygon or MultiPolygon" in line


def test_a_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only domain errors are turned into one line: anything else means the gateway is wrong, and says where."""
    import gateway.commands.zones as zones_cmd

    def broken(lon: float, lat: float) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(zones_cmd, "check_point", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["zones", "locate", "113", "23"])
