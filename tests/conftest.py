"""Shared fixtures: a real PostgreSQL and a real MQTT broker.

`ENFORCEGW_TEST_DATABASE_URL` / `ENFORCEGW_TEST_MQTT_URL` point at running servers (CI has PostgreSQL on
127.0.0.1:5432 and Mosquitto on 127.0.0.1:1883); without them the embedded ones start, as in `make demo`.
Each test that asks for a database gets its own, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from testkit.databases import create_database, drop_database, with_dbname
from testkit.services import mosquitto_process


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


@pytest.fixture(scope="session")
def migrated_template(pg_server_url: str) -> Iterator[str]:
    """A database migrated once per session; tests clone it (CREATE DATABASE ... TEMPLATE is cheap)."""
    from gateway.store.migrate import apply_migrations

    name = f"enforcegw_tmpl_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    apply_migrations(with_dbname(pg_server_url, name))
    yield name
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _new_db(server_url: str, template: str | None) -> Iterator[str]:
    url = create_database(server_url, "enforcegw_t", template)
    yield url
    drop_database(server_url, url)


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


@pytest.fixture
def private_mosquitto() -> Iterator[str]:
    """A broker of the test's own, for tests that load it or restart it."""
    with mosquitto_process() as url:
        yield url
