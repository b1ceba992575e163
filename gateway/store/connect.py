"""Where the store is: a configured server, or the embedded PostgreSQL under data_dir."""

from __future__ import annotations

from gateway.config import Settings
from gateway.embedded import EmbeddedPostgres


class StoreLocation:
    """Resolves `database.url`; starts (and later stops) the embedded server when it is empty."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedded: EmbeddedPostgres | None = None

    def __enter__(self) -> str:
        if self.settings.database.url:
            return self.settings.database.url
        self.embedded = EmbeddedPostgres(self.settings.data_dir)
        return self.embedded.start()

    def __exit__(self, *exc: object) -> None:
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None


def resolve_database_url(settings: Settings) -> StoreLocation:
    """`with resolve_database_url(settings) as url:` gives a conninfo for the configured or embedded store."""
    return StoreLocation(settings)
