"""Config: a typo or a wrong value is an error naming the field; the environment overrides the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config import ConfigError, load_settings


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "gw.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("mqtt:\n  urll: mqtt://x\n", "mqtt.urll"),
        ("ingest:\n  batch_max_rows: 0\n", "ingest.batch_max_rows"),
        ("ingest:\n  batch_max_ms: soon\n", "ingest.batch_max_ms"),
        ("api:\n  listen: localhost\n", "api.listen"),
        ("databse:\n  url: ''\n", "databse"),
        ("ingest:\n  accept_unknown_devices: maybe\n", "ingest.accept_unknown_devices"),
    ],
)
def test_errors_name_the_field(tmp_path: Path, text: str, field: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(_write(tmp_path, text))
    assert field in [path for path, _msg in exc.value.errors]


def test_file_values_and_defaults(tmp_path: Path) -> None:
    s = load_settings(_write(tmp_path, "mqtt:\n  shared_group: gw\ningest:\n  batch_max_rows: 100\n"))
    assert s.mqtt.shared_group == "gw"
    assert s.ingest.batch_max_rows == 100
    assert s.ingest.accept_unknown_devices is False
    assert s.database.url == "" and s.mqtt.url == ""  # embedded by default


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENFORCEGW_INGEST__BATCH_MAX_ROWS", "42")
    monkeypatch.setenv("ENFORCEGW_MQTT__URL", "mqtt://broker:1883")
    s = load_settings(_write(tmp_path, "ingest:\n  batch_max_rows: 100\n  batch_max_ms: 77\n"))
    assert s.ingest.batch_max_rows == 42
    assert s.ingest.batch_max_ms == 77, "the rest of the file's section survives an env override"
    assert s.mqtt.url == "mqtt://broker:1883"


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(_write(tmp_path, "mqtt: [unclosed\n"))
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.yaml")


def test_config_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _write(tmp_path, "mqtt:\n  topicz: []\ningest:\n  batch_max_rows: -1\n")
    assert main(["config", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "mqtt.topicz" in err and "ingest.batch_max_rows" in err and "2 error(s)" in err
    good = tmp_path / "good.yaml"
    good.write_text("api:\n  listen: 0.0.0.0:9000\n")
    assert main(["config", "check", str(good)]) == 0


def test_readme_config_example_is_valid(tmp_path: Path) -> None:
    import re

    from tests.conftest import REPO

    block = re.search(r"```yaml\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S)
    assert block, "README has a yaml config example"
    s = load_settings(_write(tmp_path, block.group(1)))
    assert s.ingest.batch_max_rows == 5000 and s.alerts.overrides.zones["cat-1"]["gb18483_2001.oil_fume"].limit == 1.0
