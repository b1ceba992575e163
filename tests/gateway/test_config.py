"""Config: a typo or a wrong value is an error naming the field; the environment overrides the file."""

from __future__ import annotations

import json
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
        ("mqtt:\n  protocol: '4'\n", "mqtt.protocol"),
        ("ingest:\n  batch_max_rows: 0\n", "ingest.batch_max_rows"),
        ("ingest:\n  batch_max_ms: soon\n", "ingest.batch_max_ms"),
        ("api:\n  listen: localhost\n", "api.listen"),
        ("databse:\n  url: ''\n", "databse"),
        ("ingest:\n  accept_unknown_devices: maybe\n", "ingest.accept_unknown_devices"),
        ("api:\n  review:\n    lease_s: 0\n", "api.review.lease_s"),
        ("api:\n  review:\n    lease: 60\n", "api.review.lease"),
        ("api:\n  review:\n    dismiss_reasons: {}\n", "api.review.dismiss_reasons"),
        ("api:\n  review:\n    dismiss_reasons: {dup: {zh: 重复}}\n", "api.review.dismiss_reasons.dup.en"),
        ("api:\n  review:\n    dismiss_reasons: {Bad Code: {zh: a, en: b}}\n",
         "api.review.dismiss_reasons.Bad Code.[key]"),
        ("api:\n  auth:\n    failure_limit: 0\n", "api.auth.failure_limit"),
        ("api:\n  auth:\n    window_s: -1\n", "api.auth.window_s"),
        ("enforcement:\n  items: {C-1: {name: 噪声}}\n", "enforcement.items.C-1.legal_basis"),
        ("enforcement:\n  items: {C-1: {name: '', legal_basis: x}}\n", "enforcement.items.C-1.name"),
        ("enforcement:\n  items: {C-1: {name: n, legal_basis: x, legal_review: maybe}}\n",
         "enforcement.items.C-1.legal_review"),
        ("enforcement:\n  items: {C-1: {name: n, legal_basis: x, legal_reveiw: true}}\n",
         "enforcement.items.C-1.legal_reveiw"),
        ("enforcement:\n  items: {'C 1': {name: n, legal_basis: x}}\n", "enforcement.items.C 1.[key]"),
        ("enforcement:\n  default_legal_review: sometimes\n", "enforcement.default_legal_review"),
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


ENFORCEMENT = """
enforcement:
  items:
    C-NOISE-NIGHT: {name: 夜间施工噪声扰民, legal_basis: 《噪声污染防治法》第八十一条}
    C-FUME: {name: 餐饮油烟超标排放, legal_basis: 《大气污染防治法》第一百一十八条, legal_review: false}
"""


@pytest.mark.parametrize(("extra", "item", "needs"), [
    ("", "C-NOISE-NIGHT", True),  # listed without saying: needs one
    ("", "C-FUME", False),
    ("", "C-UNLISTED", True),
    ("", None, True),
    ("  default_legal_review: false\n", "C-UNLISTED", False),
    ("  default_legal_review: false\n", None, False),
    ("  default_legal_review: false\n", "C-NOISE-NIGHT", True),
])
def test_which_items_need_a_legal_review(tmp_path: Path, extra: str, item: str | None, needs: bool) -> None:
    s = load_settings(_write(tmp_path, ENFORCEMENT + extra))
    assert s.enforcement.needs_legal_review(item) is needs
    assert s.enforcement.items["C-FUME"].legal_basis == "《大气污染防治法》第一百一十八条"


def test_review_defaults_and_configured_reasons(tmp_path: Path) -> None:
    s = load_settings()
    assert (s.api.review.lease_s, s.api.auth.failure_limit, s.api.auth.window_s) == (600.0, 10, 60.0)
    assert list(s.api.review.dismiss_reasons) == ["false_detection", "duplicate", "outside_jurisdiction",
                                                  "lawful_activity", "device_fault"]
    custom = load_settings(_write(tmp_path, "api:\n  review:\n    dismiss_reasons:\n"
                                            "      no_permit_needed: {zh: 无需许可, en: No permit needed}\n"))
    assert list(custom.api.review.dismiss_reasons) == ["no_permit_needed"]  # replaces the defaults whole
    assert custom.api.listen == "127.0.0.1:8080"


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENFORCEGW_INGEST__BATCH_MAX_ROWS", "42")
    monkeypatch.setenv("ENFORCEGW_MQTT__URL", "mqtt://broker:1883")
    s = load_settings(_write(tmp_path, "ingest:\n  batch_max_rows: 100\n  batch_max_ms: 77\n"))
    assert s.ingest.batch_max_rows == 42
    assert s.ingest.batch_max_ms == 77, "the rest of the file's section survives an env override"
    assert s.mqtt.url == "mqtt://broker:1883"


# (field, value, fragment of the reason): each would otherwise pass `config check` and fail in `run`
BAD_VALUES = [
    ("database.url", "notaurl", "not a postgresql:// URL"),
    ("database.url", "mysql://h/db", "scheme 'mysql'"),
    ("database.url", "ftp://h/db", "scheme 'ftp'"),
    ("database.url", "postgresql://h:abc/db", "port 'abc'"),
    ("database.url", "postgresql://h:70000/db", "port '70000'"),
    ("database.url", "host=h bogus=1", "bogus"),
    ("database.url", "   ", "blank"),
    ("mqtt.url", "ftp://broker:21", "scheme 'ftp'"),
    ("mqtt.url", "ws://broker:8080", "websockets"),
    ("mqtt.url", "http://broker", "scheme 'http'"),
    ("mqtt.url", "mqtt://broker:99999", "port"),
    ("mqtt.url", "mqtt://broker:x", "port"),
    ("mqtt.url", "mqtt://broker:0", "port"),
    ("mqtt.url", "mqtt://:1883", "no broker host"),
    ("mqtt.url", "mqtt://broker:1883/topic", "no path"),
    ("mqtt.client_id", "", "new session on every start"),
    ("mqtt.client_id", "gw+1", "wildcards"),
    ("mqtt.client_id", "gw#1", "wildcards"),
    ("mqtt.client_id", "site/gw1", "no /"),
    ("mqtt.client_id", "gw 1", "no spaces"),
    ("mqtt.client_id", "gw\u0000", "characters"),
    ("mqtt.client_id", "g" * 65, "1-64 characters"),
    ("mqtt.shared_group", "a/b", "without / + #"),
    ("mqtt.shared_group", "g+", "without / + #"),
    ("mqtt.topics", ["enf/#/reading"], "# must be the whole last level"),
    ("mqtt.topics", ["enf/sensor+/reading"], "+ must be a whole level"),
    ("mqtt.topics", [""], "empty"),
]


@pytest.mark.parametrize(("field", "value", "reason"), BAD_VALUES, ids=[f"{f}={v!r}" for f, v, _ in BAD_VALUES])
def test_connection_settings_refused_naming_the_field(tmp_path: Path, field: str, value: object, reason: str) -> None:
    section, key = field.split(".")
    with pytest.raises(ConfigError) as exc:
        load_settings(_write(tmp_path, json.dumps({section: {key: value}})))
    errors = dict(exc.value.errors)
    assert list(errors) == [field]
    assert reason in errors[field]
    assert not errors[field].startswith("Value error")


GOOD_VALUES = [
    ("database.url", ""),
    ("database.url", "postgresql://postgres@127.0.0.1:5432/enforcegw"),
    ("database.url", "postgres://u:p@db.example/enforcegw?sslmode=require"),
    ("database.url", "postgresql:///enforcegw?host=/var/run/postgresql"),
    ("database.url", "postgresql://[::1]:5432/x"),
    ("database.url", "host=db.example port=5433 dbname=enforcegw user=gw"),
    ("mqtt.url", ""),
    ("mqtt.url", "mqtt://127.0.0.1:1883"),
    ("mqtt.url", "mqtts://user:secret@broker.example"),
    ("mqtt.url", "tcp://broker:1883/"),
    ("mqtt.url", "ssl://broker:8883"),
    ("mqtt.url", "broker.example:1883"),
    ("mqtt.client_id", "enforcegw-1"),
    ("mqtt.client_id", "gw_2.site:a"),
    ("mqtt.client_id", "g" * 64),
    ("mqtt.shared_group", "gw"),
    ("mqtt.topics", ["#", "enf/+/reading", "thing/product/+/osd", "a/b/#"]),
]


@pytest.mark.parametrize(("field", "value"), GOOD_VALUES, ids=[f"{f}={v!r}" for f, v in GOOD_VALUES])
def test_connection_settings_accepted(tmp_path: Path, field: str, value: object) -> None:
    section, key = field.split(".")
    s = load_settings(_write(tmp_path, json.dumps({section: {key: value}})))
    assert getattr(getattr(s, section), key) == value


def test_a_password_in_a_refused_url_is_not_repeated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(_write(tmp_path, "mqtt:\n  url: ws://gw:hunter2@broker:80\n"
                                       "database:\n  url: mysql://gw:hunter2@db/x\n"))
    assert len(exc.value.errors) == 2
    assert "hunter2" not in str(exc.value)


def test_environment_values_are_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENFORCEGW_MQTT__CLIENT_ID", "")
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert [p for p, _ in exc.value.errors] == ["mqtt.client_id"]


def test_environment_value_that_is_not_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENFORCEGW_MQTT__TOPICS", "enf/#")
    with pytest.raises(ConfigError, match="mqtt"):
        load_settings()


# (file bytes or a path maker, fragment of the one-line reason)
UNUSABLE_FILES = [
    (b"mqtt:\n  url: \xff\xfe broker\n", "not UTF-8: byte 0xff at offset 13"),
    ("mqtt: caf\u00e9\n".encode("latin-1"), "not UTF-8: byte 0xe9 at offset 9"),
    (b"mqtt: [unclosed\n", "not valid YAML at line 2, column 1"),
    (b"mqtt:\n  url: a\n url: b\n", "not valid YAML at line 3"),
    (b"\tmqtt: {}\n", "not valid YAML at line 1, column 1"),
    (b"!!python/object:os.system {}\n", "not valid YAML"),
    (b"- a\n- b\n", "expected a mapping of settings, got a list"),
    (b"just words\n", "expected a mapping of settings, got a string"),
    (b"42\n", "expected a mapping of settings, got a number"),
    (b"1: x\n", "setting names must be strings"),
    (b"ingest:\n  batch_max_rows: " + b"9" * 5000 + b"\n", "unusable value: Exceeds the limit (4300 digits)"),
    (b"a: " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "nested too deeply"),
]


@pytest.mark.parametrize(("content", "reason"), UNUSABLE_FILES, ids=[r for _, r in UNUSABLE_FILES])
def test_unusable_file_is_one_line_naming_it(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "gw.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    [line] = exc.value.lines()
    assert line.startswith(f"{path}: ") and reason in line and "\n" not in line


def test_utf8_with_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_bytes("\ufeffmqtt:\n  shared_group: 网关\n".encode())
    assert load_settings(path).mqtt.shared_group == "网关"


@pytest.mark.parametrize(("make", "reason"), [
    (lambda d: d / "nope.yaml", "file not found"),
    (lambda d: d, "is a directory"),
])
def test_missing_file_or_directory(tmp_path: Path, make: object, reason: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(make(tmp_path))  # type: ignore[operator]
    [line] = exc.value.lines()
    assert reason in line


@pytest.mark.parametrize("argv", [["config", "check"], ["config", "show"], ["migrate"]])
def test_unusable_file_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    path = tmp_path / "gw.yaml"
    path.write_bytes(b"database:\n  url: \xc3\x28\n")
    args = [*argv, str(path)] if argv[0] == "config" else ["-c", str(path), *argv]
    code = main(args)
    captured = capsys.readouterr()
    assert code == (1 if argv[1:] == ["check"] else 2)
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert "Traceback" not in captured.err
    assert any(f"{path}: <file>: not UTF-8: byte 0xc3 at offset 17" in line for line in lines)


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

    from testkit.paths import REPO

    block = re.search(r"```yaml\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S)
    assert block, "README has a yaml config example"
    s = load_settings(_write(tmp_path, block.group(1)))
    assert s.ingest.batch_max_rows == 5000 and s.alerts.overrides.zones["cat-1"]["gb18483_2001.oil_fume"].limit == 1.0


@pytest.mark.parametrize(("detection", "error"), [
    ({"enabled": True, "detector": {"weights": "/nowhere/model.pt"}}, "detector.weights: /nowhere/model.pt"),
    ({"enabled": True, "detector": {"weights": "yolo11n.pt"}}, None),  # ultralytics downloads it when online
    ({"enabled": False, "detector": {"weights": "/nowhere/model.pt"}}, None),  # not used while off
    ({"enabled": True, "detector": {"confidence": 1.5}}, "detection.detector.confidence"),
    ({"enabled": True, "streams": {"cam-1": {"gate": {"mode": "off"}}}}, "off_reason"),
    ({"enabled": True, "bogus": 1}, "detection.bogus"),
])
def test_detection_settings(tmp_path: Path, detection: dict, error: str | None) -> None:
    path = _write(tmp_path, json.dumps({"detection": detection}))
    if error is None:
        assert load_settings(path).detection.enabled == detection["enabled"]
        return
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    assert error in "; ".join(exc.value.lines())
