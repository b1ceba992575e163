"""Shared fixtures: a real PostgreSQL and a real MQTT broker.

`ENFORCEGW_TEST_DATABASE_URL` / `ENFORCEGW_TEST_MQTT_URL` point at running servers (CI has PostgreSQL on
127.0.0.1:5432 and Mosquitto on 127.0.0.1:1883); without them the embedded ones start, as in `make demo`.
Each test that asks for a database gets its own, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A file under ../shared; skips the test with a reason when CI has no shared/ beside the checkout."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} not present: shared/ is not beside this checkout")
    return p


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    url = os.environ.get("ENFORCEGW_TEST_DATABASE_URL")
    if url:
        yield url
        return
    from gateway.embedded import EmbeddedPostgres

    tmp = Path(tempfile.mkdtemp(prefix="enforcegw-pg-"))
    pg = EmbeddedPostgres(tmp)
    yield pg.start()
    pg.stop()
    shutil.rmtree(tmp, ignore_errors=True)


def _with_dbname(url: str, dbname: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**params)


@pytest.fixture(scope="session")
def migrated_template(pg_server_url: str) -> Iterator[str]:
    """A database migrated once per session; tests clone it (CREATE DATABASE ... TEMPLATE is cheap)."""
    from gateway.store.migrate import apply_migrations

    name = f"enforcegw_tmpl_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    apply_migrations(_with_dbname(pg_server_url, name))
    yield name
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _new_db(server_url: str, template: str | None) -> Iterator[str]:
    name = f"enforcegw_t_{uuid.uuid4().hex[:12]}"
    tmpl = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{tmpl}')
    yield _with_dbname(server_url, name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_db(pg_server_url: str) -> Iterator[str]:
    """URL of a new, empty database (no migrations applied)."""
    yield from _new_db(pg_server_url, None)


@pytest.fixture
def db_url(pg_server_url: str, migrated_template: str) -> Iterator[str]:
    """URL of a new database with every migration applied."""
    yield from _new_db(pg_server_url, migrated_template)


@pytest.fixture(scope="session")
def mqtt_url() -> Iterator[str]:
    """A running broker for light traffic: the CI Mosquitto, else a private Mosquitto or amqtt."""
    url = os.environ.get("ENFORCEGW_TEST_MQTT_URL")
    if url:
        yield url
        return
    with mosquitto_process() as url:
        yield url


class _Mosquitto:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> str:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(exe).exists():
            pytest.skip("mosquitto binary not installed (apt-get install mosquitto)")
        # Our production config, with persistence moved to a private directory of this test run.
        self.tmp = Path(tempfile.mkdtemp(prefix="enforcegw-mosq-"))
        conf = self.tmp / "mosquitto.conf"
        text = (REPO / "docker" / "mosquitto.conf").read_text()
        conf.write_text(text.replace("/mosquitto/data/", f"{self.tmp}/"))
        self.proc = subprocess.Popen([exe, "-c", str(conf), "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return f"mqtt://127.0.0.1:{self.port}"
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def __exit__(self, *exc: object) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.tmp, ignore_errors=True)


def mosquitto_process() -> _Mosquitto:
    """A private Mosquitto with our docker/mosquitto.conf (no silent QoS 1 drops) on a free port."""
    return _Mosquitto()


@pytest.fixture
def private_mosquitto() -> Iterator[str]:
    """A broker of the test's own, for tests that load it or restart it."""
    with mosquitto_process() as url:
        yield url
