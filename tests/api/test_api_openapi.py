"""The OpenAPI document is generated from the route table and its models, the docs page renders it with no
internet, and the `enforcegw` console script (api.main) serves both from `enforcegw run`, while the gateway's
own CLI (`python -m gateway.cli`) serves no API."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from api.openapi import media_type
from api.routes import PUBLIC
from api.server import TABLE_KEY
from testkit.api_harness import api_gateway

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def refs(node: object) -> set[str]:
    if isinstance(node, dict):
        own = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return own.union(*(refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(v) for v in node))
    return set()


async def test_document_covers_every_route_with_its_roles_and_models(tmp_path: Path, db_url: str,
                                                                     mqtt_url: str) -> None:
    async with api_gateway(tmp_path, db_url, mqtt_url) as api:
        table = api.gw.http.app[TABLE_KEY]
        async with api.request("GET", "/api/openapi.json") as r:
            assert r.status == 200
            doc = await r.json()
        async with api.request("GET", "/api/docs") as r:
            assert r.status == 200 and r.content_type == "text/html"
            page = await r.text()
    assert doc["openapi"].startswith("3.1")
    for spec in table.routes:
        op = doc["paths"][spec.path][spec.method.lower()]
        assert op["x-roles"] == sorted(spec.roles) and op["summary"] == spec.summary
        assert ("security" in op) == (spec.roles != PUBLIC)
        assert set(op["responses"]) >= ({"401", "403", "429"} if spec.roles != PUBLIC else {"404"})
        if spec.response is not None:
            ok = op["responses"]["200" if spec.method == "GET" else "2XX"]
            media = media_type(spec.response)
            schema = ok["content"][media]["schema"]
            if media == "text/event-stream":  # each event's data is the model
                schema = schema["properties"]["data"]["contentSchema"]
            assert schema == {"$ref": f"#/components/schemas/{spec.response.__name__}"}, spec.path
    audit = doc["paths"]["/api/audit-log"]["get"]
    assert {p["name"] for p in audit["parameters"]} == {"cursor", "limit"}
    schemas = doc["components"]["schemas"]
    assert {r.removeprefix("#/components/schemas/") for r in refs(doc)} <= set(schemas)  # every $ref resolves
    assert schemas["ErrorResponse"]["properties"]["error"] == {"$ref": "#/components/schemas/ErrorBody"}
    # Offline: nothing is fetched from elsewhere, the page reads the document beside it.
    assert "<script src" not in page and "<link" not in page and "http:" not in page and "https:" not in page
    assert 'fetch("openapi.json")' in page


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize(("command", "api_status"), [
    ([str(ROOT / ".venv" / "bin" / "enforcegw")], 200),
    ([sys.executable, "-m", "gateway.cli"], 404),
])
def test_enforcegw_run_serves_the_api(tmp_path: Path, db_url: str, mqtt_url: str, command: list[str],
                                      api_status: int) -> None:
    if not Path(command[0]).exists():
        pytest.skip("the console script is not installed")
    port = free_port()
    config = tmp_path / "gw.yaml"
    config.write_text(yaml.safe_dump({
        "data_dir": str(tmp_path / "data"), "database": {"url": db_url},
        "mqtt": {"url": mqtt_url, "client_id": f"gw-api-{uuid.uuid4().hex[:8]}"},
        "api": {"listen": f"127.0.0.1:{port}"},
    }))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENFORCEGW_")}
    proc = subprocess.Popen([*command, "-c", str(config), "run"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while get_or_none(port, "/healthz") is None:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "gateway exited"
            assert time.monotonic() < deadline, "gateway did not start"
            time.sleep(0.1)
        assert get(port, "/api/openapi.json") == api_status
        assert get(port, "/api/public/vkey") == 200  # the gateway's own route, with or without the API
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def get_or_none(port: int, path: str) -> int | None:
    try:
        return get(port, path)
    except OSError:
        return None
