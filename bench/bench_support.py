"""Shared by the benchmarks: a throwaway database, and reading a running gateway's /metrics."""

from __future__ import annotations

import os
import time
import urllib.request
import uuid

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo


def bench_database(url: str | None) -> tuple[str, str]:
    """Create a fresh database on the server at `url` (default: the test server); return (server, db) URLs."""
    url = url or os.environ.get("ENFORCEGW_TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    name = f"enforcegw_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(url)
    params["dbname"] = name
    return url, make_conninfo(**params)


def drop_database(server: str, db: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{conninfo_to_dict(db)["dbname"]}" WITH (FORCE)')


def metric(port: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def wait_gateway(http_port: int, timeout: float = 60.0) -> None:
    """Until the gateway on `http_port` reports its MQTT connection."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if metric(http_port, "enforcegw_mqtt_connected") == 1:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("gateway did not start")
