"""The API test gateway of testkit/api_harness.py on an event loop of its own thread, for clients that block
(schemathesis, requests): their calls would stall a gateway sharing the test's loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from gateway.app import HttpMount
from testkit.api_harness import ApiGateway, api_gateway

T = TypeVar("T")


@dataclass(frozen=True)
class ThreadedApi:
    """`api.session` and `api.request` belong to `loop`: use them through `run`, or call `api.base` with a
    client of your own."""

    api: ApiGateway
    loop: asyncio.AbstractEventLoop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run `coro` on the gateway's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


@contextlib.contextmanager
def threaded_api_gateway(tmp: Path, db_url: str, mqtt_url: str, *, mount: HttpMount | None = None,
                         start_timeout: float = 60.0, **settings: Any) -> Iterator[ThreadedApi]:
    """`with threaded_api_gateway(tmp, db_url, mqtt_url) as t:` a started gateway serving the API at `t.api.base`,
    stopped (and any failure of its thread raised here) when the block ends."""
    started: Future[tuple[ApiGateway, asyncio.AbstractEventLoop, asyncio.Event]] = Future()
    failure: list[BaseException] = []

    async def serve() -> None:
        async with api_gateway(tmp, db_url, mqtt_url, mount=mount, **settings) as api:
            stop = asyncio.Event()
            started.set_result((api, asyncio.get_running_loop(), stop))
            await stop.wait()

    def main() -> None:
        try:
            asyncio.run(serve())
        except BaseException as exc:
            if not started.done():
                started.set_exception(exc)
            else:
                failure.append(exc)

    thread = threading.Thread(target=main, name="api-gateway", daemon=True)
    thread.start()
    api, loop, stop = started.result(start_timeout)
    try:
        yield ThreadedApi(api, loop)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(start_timeout)
        if thread.is_alive():
            raise RuntimeError("the API gateway's thread did not stop")
        if failure:
            raise failure[0]
