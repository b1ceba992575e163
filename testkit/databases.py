"""Throwaway PostgreSQL databases on a running server."""

from __future__ import annotations

import os
import uuid

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def with_dbname(url: str, dbname: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**params)


def create_database(server_url: str, prefix: str = "enforcegw_t", template: str | None = None) -> str:
    """A new database on `server_url` (cloned from `template` when given); returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    tmpl = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{tmpl}')
    return with_dbname(server_url, name)


def drop_database(server_url: str, db_url: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{conninfo_to_dict(db_url)["dbname"]}" WITH (FORCE)')


def bench_database(url: str | None) -> tuple[str, str]:
    """A fresh database on the server at `url` (default: the test server); returns (server, db) URLs."""
    server = url or os.environ.get("ENFORCEGW_TEST_DATABASE_URL") or DEFAULT_SERVER
    return server, create_database(server, "enforcegw_bench")
