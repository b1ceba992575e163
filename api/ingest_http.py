"""HTTP ingest for devices that do not speak MQTT: `POST /api/ingest/readings` with a device token."""

from __future__ import annotations

from api.context import ApiContext
from api.routes import RouteTable


def register(table: RouteTable, ctx: ApiContext) -> None:
    """Routes come with the HTTP ingest work (issue 13, item 10)."""
