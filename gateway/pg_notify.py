"""LISTEN on PostgreSQL channels and call back on every NOTIFY; reconnects, and calls back once after each
(re)connect so changes made while not listening are not missed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import psycopg
import structlog

log = structlog.get_logger(__name__)

Callback = Callable[[], Awaitable[None]]


class NotifyListener:
    def __init__(self, database_url: str, channels: dict[str, Callback]) -> None:
        self.database_url = database_url
        self.channels = channels
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pg-notify")
        self._task.add_done_callback(self._ended)

    @staticmethod
    def _ended(task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("pg_notify.crashed", exc_info=task.exception())

    def alive(self) -> bool:
        """The listening task runs. It ends only when a callback raises something other than a store error."""
        return self._task is None or not self._task.done()

    def last_error(self) -> str | None:
        if self._task is None or not self._task.done() or self._task.cancelled():
            return None
        exc = self._task.exception()
        return None if exc is None else f"{type(exc).__name__}: {exc}"

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            # a task that died already was reported by the worker registry; stopping must not raise it again
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
                    for channel in self.channels:
                        await conn.execute(f"LISTEN {channel}")
                    for callback in self.channels.values():
                        await callback()
                    async for note in conn.notifies():
                        await self.channels[note.channel]()
            except asyncio.CancelledError:
                raise
            except psycopg.Error as exc:
                log.warning("pg_notify.failed", error=str(exc).strip())
                await asyncio.sleep(2)
