"""`enforcegw case-sink`: each unusable argument is one `error:` line naming the option (never the secret), the
options reach the sink, and the command serves signed deliveries until SIGTERM."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from gateway.cli import build_parser, main
from gateway.commands.case_sink import sink_from_args
from testkit.paths import REPO
from testkit.services import free_port

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize(("args", "message"), [
    (["--secret", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], "--secret: a webhook secret is 'whsec_' followed by base64"),
    (["--secret", "whsec_c2hvcnQ="], "--secret: a webhook secret decodes to 24 to 64 bytes; this one decodes to 5"),
    (["--secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!"], "--secret: the part after 'whsec_' is not base64"),
    (["--secret", SECRET, "--secret", "whsec_"], "--secret (number 2): a webhook secret decodes to 24 to 64"),
    (["--secret", SECRET, "--fail-rate", "1.5"], "--fail-rate: 1.5 is not a fraction from 0 to 1"),
    (["--secret", SECRET, "--fail-rate", "nan"], "--fail-rate: nan is not a fraction"),
    (["--secret", SECRET, "--status", "200"], "--status: 200 is not a failure status (300-599)"),
    (["--secret", SECRET, "--status", "700"], "--status: 700 is not a failure status"),
    (["--secret", SECRET, "--retry-after", "-1"], "--retry-after: -1 is not a number of seconds"),
    (["--secret", SECRET, "--stall-s", "-0.5"], "--stall-s: -0.5 is not a number of seconds"),
    (["--secret", SECRET, "--tolerance-s", "0"], "--tolerance-s: 0.0 is not a number of seconds"),
    (["--secret", SECRET, "--down-until", "tomorrow"], "--down-until: 'tomorrow' is not an ISO 8601 time"),
    (["--secret", SECRET, "--down-until", "2026-03-01T08:00:00"], "has no UTC offset"),
    (["--secret", SECRET, "--port", "70000"], "--port: 70000 is not a TCP port"),
])
def test_an_unusable_argument_is_one_error_line(args: list[str], message: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["case-sink", "--port", "0", *args] if "--port" not in args else ["case-sink", *args]
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert message in line
    assert "MfKQ9r8GKYqrTwjUPD8IL" not in line


def test_a_port_in_use_and_a_foreign_data_file_are_one_error_line(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["case-sink", "--port", str(port), "--secret", SECRET]) == 2
        assert f"cannot listen on 127.0.0.1:{port}" in _one_error_line(capsys)
        soon = datetime.fromtimestamp(time.time() + 1, UTC).isoformat()  # found when it opens, after being down
        assert main(["case-sink", "--port", str(port), "--secret", SECRET, "--down-until", soon]) == 2
        assert f"cannot listen on 127.0.0.1:{port}" in _one_error_line(capsys)
    bad = tmp_path / "sink.jsonl"
    bad.write_text("hello\n\n")
    assert main(["case-sink", "--port", "0", "--secret", SECRET, "--data", str(bad)]) == 2
    assert f"{bad}:1: not a case-sink record" in _one_error_line(capsys)
    missing = tmp_path / "no" / "such" / "sink.jsonl"
    assert main(["case-sink", "--port", "0", "--secret", SECRET, "--data", str(missing)]) == 2
    assert f"{missing}: No such file or directory" in _one_error_line(capsys)


@pytest.mark.parametrize(("extra", "expected"), [
    ([], {"fail_rate": 0.0, "status": None, "stall_s": 0.0, "down_until": None, "tolerance_s": 300.0}),
    (["--fail-rate", "0.25", "--seed", "9"], {"fail_rate": 0.25}),
    (["--status", "429", "--retry-after", "12"], {"status": 429, "retry_after_s": 12}),
    (["--stall-s", "20"], {"stall_s": 20.0}),
    (["--down-until", "2026-03-01T08:00:00+08:00"], {"down_until": datetime(2026, 3, 1, 0, 0, tzinfo=UTC)}),
    (["--down-until", "2026-03-01T00:00:00Z", "--host", "0.0.0.0"], {
        "down_until": datetime(2026, 3, 1, tzinfo=UTC), "host": "0.0.0.0"}),
    (["--secret", "whsec_" + "A" * 32], {"n_secrets": 2}),
])
def test_the_options_reach_the_sink(extra: list[str], expected: dict[str, object], tmp_path: Path) -> None:
    args = build_parser().parse_args(["case-sink", "--port", "8099", "--secret", SECRET,
                                      "--data", str(tmp_path / "d.jsonl"), *extra])
    sink = sink_from_args(args)
    seen = {**vars(sink), "n_secrets": len(sink.secrets)}
    assert {k: seen[k] for k in expected} == expected
    assert (sink.port, sink.data_path) == (8099, tmp_path / "d.jsonl")


def _wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("case-sink did not start")


def _post(url: str, msg_id: str, body: str) -> tuple[int, dict[str, str], dict[str, object]]:
    now = datetime.now(UTC)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(SECRET).sign(msg_id, now, body), "Content-Type": "application/json"}
    req = urllib.request.Request(url + "/", data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


@pytest.mark.parametrize(("extra", "status", "retry_after"), [
    ([], 200, None),
    (["--status", "503", "--retry-after", "9"], 503, "9"),
])
def test_the_command_serves_until_sigterm(extra: list[str], status: int, retry_after: str | None,
                                          tmp_path: Path) -> None:
    port, data = free_port(), tmp_path / "sink.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "case-sink", "--port", str(port),
                             "--secret", SECRET, "--data", str(data), "--log-json", *extra],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc)
        body = json.dumps({"task_id": "T1", "summary": "夜间施工噪声"}, ensure_ascii=False)
        got, headers, answer = _post(url, "task_1-city", body)
        assert got == status
        assert headers.get("Retry-After") == retry_after
        if status == 200:
            assert answer["received"] == "task_1-city"
            assert re.fullmatch(r"AJ20\d\d000001", str(answer["case_no"]))
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    stored = [json.loads(line) for line in data.read_text().splitlines()]
    assert [r["id"] for r in stored] == (["task_1-city"] if status == 200 else [])
    logged = [json.loads(line)["event"] for line in out.decode().splitlines() if line.startswith("{")]
    assert "case_sink.listening" in logged
