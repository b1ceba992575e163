"""Migrations: applied once, recorded, safe to repeat and to race."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from gateway.store.migrate import apply_migrations

pytestmark = pytest.mark.integration


def _versions(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def test_applies_every_migration_then_nothing(empty_db: str) -> None:
    first = apply_migrations(empty_db)
    assert "0001_core" in first.applied
    assert first.mode in ("plain", "timescaledb")
    second = apply_migrations(empty_db)
    assert second.applied == []
    assert second.mode == first.mode
    assert sorted(first.applied) == _versions(empty_db)


def test_concurrent_runs_apply_each_migration_once(empty_db: str) -> None:
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: apply_migrations(empty_db), range(4)))
    applied = [v for r in results for v in r.applied]
    assert len(applied) == len(set(applied)), "a migration ran twice"
    assert sorted(applied) == _versions(empty_db)


def test_plain_mode_has_brin_and_5m_view(empty_db: str) -> None:
    result = apply_migrations(empty_db, allow_timescale=False)
    assert result.mode == "plain"
    with psycopg.connect(empty_db) as conn:
        idx = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'readings'")}
        assert {"readings_time_brin", "readings_device_time", "readings_dedup_seq"} <= idx
        conn.execute(
            "INSERT INTO readings (time, device_id, metric, value) VALUES "
            "('2026-01-01 10:01Z', 'd', 'LAeq', 50), ('2026-01-01 10:03Z', 'd', 'LAeq', 70)"
        )
        row = conn.execute("SELECT avg, max, n FROM readings_5m").fetchone()
        assert row == (60.0, 70.0, 2)
