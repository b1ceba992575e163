"""`enforcegw demo` with the console API: it prints where the API is and a working token per person role."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import psycopg
import pytest
import yaml

from gateway.demo.tokens import DEMO_ROLES, issue_demo_tokens

pytestmark = pytest.mark.integration


def _request(url: str, token: str | None, body: dict | None = None, **params: str) -> urllib.request.Request:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if params:
        url += "?" + urllib.parse.urlencode(params)
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    return urllib.request.Request(url, data=data, headers=headers, method="GET" if data is None else "POST")


def _json(url: str, token: str | None, **params: str) -> dict:
    with urllib.request.urlopen(_request(url, token, **params), timeout=10) as resp:
        return json.load(resp)


def _post(url: str, token: str, body: dict | None) -> int:
    req = _request(url, token, body if body is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _wait(probe, timeout: float):
    deadline = time.monotonic() + timeout
    while (value := probe()) is None:
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)
    return value


def _get(url: str, token: str | None) -> int:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_demo_prints_the_api_address_and_a_token_per_role(tmp_path: Path, db_url: str,
                                                            private_mosquitto: str) -> None:
    config = tmp_path / "demo.yaml"
    config.write_text(yaml.safe_dump({
        "data_dir": str(tmp_path / "data"), "database": {"url": db_url},
        "mqtt": {"url": private_mosquitto, "client_id": "demo-api-test", "session_expiry_s": 60},
        "api": {"listen": "127.0.0.1:0"}}))
    proc = subprocess.Popen([sys.executable, "-m", "api.main", "-c", str(config), "demo", "--speed", "600",
                             "--start", "23:00", "--no-ui"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base, sink, tokens, seen = None, None, {}, []
    try:
        for line in proc.stdout or ():
            seen.append(line)
            if m := re.match(r"Console API: (http://\S+)/api/docs", line):
                base = m.group(1)
            elif base and (m := re.match(r"\s+(\w+)\s+(egw_\S+)$", line)):
                tokens[m.group(1)] = m.group(2)
            elif m := re.match(r"Case system \(reference receiver\): (http://\S+)/", line):
                sink = m.group(1)
            if sink or line.startswith("sim "):
                break
        assert base is not None, "".join(seen)
        assert set(tokens) == set(DEMO_ROLES)
        statuses = {role: _get(f"{base}/api/alerts", t) for role, t in tokens.items()}
        assert statuses == {"operator": 200, "supervisor": 200, "auditor": 200, "admin": 403}
        assert _get(f"{base}/api/alerts", None) == 401
        assert _get(f"{base}/api/docs", None) == 200
        assert sink is not None and _get(f"{base}/", None) == 200 and _get(f"{base}/public", None) == 200
        # the whole way: the night-noise alert confirmed by the operator, approved by the supervisor, at the sink
        code = _wait(lambda: next((a["clue_code"] for a in _json(f"{base}/api/alerts", tokens["operator"],
                                                                  kind="construction_noise")["items"]
                                   if a["end_time"]), None), 120)
        for role, action, body in (("operator", "claim", None), ("operator", "confirm", {"note": "demo"}),
                                   ("supervisor", "legal-review", {"decision": "approve"})):
            status = _post(f"{base}/api/alerts/{code}/{action}", tokens[role], body)
            assert status == 200, (action, status)
        received = _wait(lambda: [r for r in _json(f"{sink}/", None)["items"]
                                  if code in r.get("body", "")] or None, 60)
        assert len(received) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


def test_each_run_revokes_the_previous_runs_demo_tokens(db_url: str) -> None:
    first = issue_demo_tokens(db_url)
    second = issue_demo_tokens(db_url)
    assert first.keys() == second.keys() and first != second
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT role, revoked_at IS NULL FROM api_tokens WHERE name LIKE 'demo-%%'").fetchall()
    active = sorted(role for role, live in rows if live)
    assert active == sorted(DEMO_ROLES) and len(rows) == 2 * len(DEMO_ROLES)
