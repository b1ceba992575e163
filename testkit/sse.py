"""Reading a Server-Sent Events response the way a browser's EventSource does."""

from __future__ import annotations

import asyncio
import json

import aiohttp


async def sse_events(resp: aiohttp.ClientResponse, n: int, timeout: float = 10.0) -> list[dict]:
    """The next n events as {id, event, data} (data decoded from JSON); comment lines are skipped."""
    out: list[dict] = []
    current: dict = {}

    async def read() -> None:
        while len(out) < n:
            line = (await resp.content.readline()).decode()
            if line == "":
                raise EOFError("stream ended")
            line = line.rstrip("\n")
            if line == "":
                if "id" in current:
                    out.append(dict(current))
                current.clear()
            elif not line.startswith(":"):
                key, _, value = line.partition(": ")
                current[key] = int(value) if key == "id" else json.loads(value) if key == "data" else value

    await asyncio.wait_for(read(), timeout)
    return out
