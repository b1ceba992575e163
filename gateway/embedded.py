"""Embedded servers for the zero-install default: PostgreSQL from `pgserver`, an `amqtt` MQTT broker.

PostgreSQL keeps its data under `data_dir`, so a restart finds the same database. The embedded broker lives
in the gateway's own process, so it keeps no state: while the gateway is down there is no broker to queue
for it either. (amqtt's SQLite session plugin was tried and dropped: it failed with "database is locked"
under our reconnects.) Deployments that need publish-while-down use Mosquitto (docker/compose.yaml).
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)


class EmbeddedPostgres:
    """A private PostgreSQL cluster in `data_dir/pg`, reached over a Unix socket."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = Path(data_dir) / "pg"
        self._server = None

    def start(self) -> str:
        # pgserver prints platformdirs warnings when XDG_RUNTIME_DIR is unset (containers, CI).
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if "XDG_RUNTIME_DIR" not in os.environ:
            run_dir = self.pgdata.parent / "run"
            run_dir.mkdir(mode=0o700, exist_ok=True)
            os.environ["XDG_RUNTIME_DIR"] = str(run_dir)
        import pgserver

        self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        url = self._server.get_uri()
        log.info("embedded.postgres.started", pgdata=str(self.pgdata))
        return url

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
            log.info("embedded.postgres.stopped")


class EmbeddedBroker:
    """An amqtt broker on 127.0.0.1:`port` inside the running event loop (MQTT 3.1.1 only)."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.port = port
        self._broker = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    async def start(self) -> str:
        from amqtt.broker import Broker

        # amqtt logs every packet at INFO; that floods the gateway's own structured logs.
        logging.getLogger("amqtt").setLevel(logging.WARNING)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}", "max_connections": 1000}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }
        self._broker = Broker(config, loop=asyncio.get_running_loop())
        await self._broker.start()
        log.info("embedded.mqtt.started", url=self.url)
        return self.url

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None
            log.info("embedded.mqtt.stopped")
