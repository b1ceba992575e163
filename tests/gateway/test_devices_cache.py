"""The writer's device lookup: a device registered a moment ago is known at once; unknown ids are cached."""

from __future__ import annotations

import psycopg
import pytest

from gateway.store.devices_cache import KnownDevices

pytestmark = pytest.mark.integration


def test_new_device_known_at_once_and_unknown_ids_cached(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn, psycopg.connect(db_url, autocommit=True) as admin:
        cache = KnownDevices(negative_ttl_s=3600)
        cache.attach(conn)
        assert not cache.known("late-1")
        admin.execute("INSERT INTO devices (id, kind, name) VALUES ('late-1', 'sensor', 'x'), ('new-2', 'sensor', 'y')")
        assert cache.known("new-2"), "registered after the cache loaded, found by the per-id lookup"
        assert not cache.known("late-1"), "negative answers are cached for negative_ttl_s"
        cache.negative_ttl_s = 0
        assert cache.known("late-1")
