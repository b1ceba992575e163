"""The running gateway's view of the zones: a registry loaded from the store and reloaded, atomically,
whenever the `zones` table changes (a statement trigger sends NOTIFY enforcegw_zones; the gateway's
NotifyListener calls `reload_async`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import psycopg
import structlog

from gateway.store.zones import load_all_zones
from geo.registry import ZoneRegistry

log = structlog.get_logger(__name__)


class ZoneService:
    def __init__(self, database_url: str, registry: ZoneRegistry | None = None,
                 on_reload: Callable[[int], None] | None = None) -> None:
        self.database_url = database_url
        self.on_reload = on_reload or (lambda _n: None)
        self.registry = registry or ZoneRegistry()

    def reload(self) -> int:
        with psycopg.connect(self.database_url) as conn:
            zones = load_all_zones(conn)
        # Readers keep the snapshot they hold; new queries see the new index (one reference swap).
        self.registry.replace(zones)
        log.info("zones.loaded", zones=len(zones), version=self.registry.index.version)
        self.on_reload(len(zones))
        return len(zones)

    async def reload_async(self) -> None:
        await asyncio.to_thread(self.reload)
