"""Numbered plain-SQL migrations, applied at start and by `enforcegw migrate`.

Safe to run twice (applied versions are recorded in `schema_migrations`) and from two processes at once
(a session advisory lock serialises them; the loser waits, then finds nothing left to do).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import psycopg
import structlog

from gateway.store import timeseries

log = structlog.get_logger(__name__)

# Arbitrary but fixed: every enforcegw process agrees on it.
MIGRATION_LOCK_KEY = 0x656E_6667_7701


@dataclass(frozen=True)
class MigrationResult:
    applied: list[str]
    mode: timeseries.Mode


def _sql_files() -> list[tuple[str, str]]:
    files = resources.files("gateway.store") / "migrations"
    out = [(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files.iterdir()
           if f.name.endswith(".sql")]
    return sorted(out)


def _mode(conn: psycopg.Connection, allow_timescale: bool) -> timeseries.Mode:
    row = conn.execute(
        "SELECT version FROM schema_migrations WHERE version LIKE 'timescale_%' OR version LIKE 'plain_%' LIMIT 1"
    ).fetchone()
    if row:  # a database keeps the layout it was created with
        return "timescaledb" if row[0].startswith("timescale_") else "plain"
    if allow_timescale and conn.execute(timeseries.AVAILABLE_SQL).fetchone():
        return "timescaledb"
    return "plain"


def apply_migrations(conninfo: str, *, allow_timescale: bool = True) -> MigrationResult:
    """Apply every pending migration; return what was applied and the time-series mode."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            applied: list[str] = []
            for version, sql in _sql_files():
                if version not in done:
                    _apply(conn, version, sql)
                    applied.append(version)
            mode = _mode(conn, allow_timescale)
            for version, sql in timeseries.steps_for(mode):
                if version not in done:
                    _apply(conn, version, sql)
                    applied.append(version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    log.info("store.migrated", applied=applied, timeseries_mode=mode)
    return MigrationResult(applied=applied, mode=mode)


def _apply(conn: psycopg.Connection, version: str, sql: str) -> None:
    # One transaction per migration: a failing file leaves nothing half-applied.
    with conn.transaction():
        conn.execute(sql)
        conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
