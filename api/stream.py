"""`GET /api/alerts/stream`: Server-Sent Events of `alert_changes` rows.

The table is the source, so a client resuming with `Last-Event-ID` gets exactly the rows after it, from any
process on the database and across restarts (ids are allocated in commit order: gateway/alerts/store.py).
One hub per process LISTENs on the change channel, reads each new row once and keeps the newest in a bounded
ring; clients caught up read from the ring, clients behind it page from the store. A client holds no buffer of
its own: it writes one row at a time and a slow reader only slows itself.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from typing import ClassVar

from aiohttp import web

from api.context import ApiContext
from api.models import AlertChangeOut, error
from api.openapi import EVENT_STREAM
from api.routes import QUEUE_READERS, RouteTable
from gateway.alerts.store import CHANGES_CHANNEL
from gateway.pg_notify import NotifyListener

HEARTBEAT_S = 15.0
PAGE = 200
RING = 1024

Row = tuple[int, str, str]  # (id, type, data JSON)


class AlertChangeEvent(AlertChangeOut):
    """One Server-Sent Event's data (`id:` is `id`, `event:` is `type`); the body is a stream of such events."""

    media_type: ClassVar[str] = EVENT_STREAM

_SELECT = ("SELECT c.id, c.type, json_build_object('id', c.id, 'alert_id', c.alert_id, 'clue_code', c.clue_code,"
           " 'type', c.type, 'time', c.time, 'alert', c.payload)::text FROM alert_changes c"
           " WHERE c.id > %s ORDER BY c.id LIMIT %s")


class ChangeHub:
    """The newest changes of this process, read once for every connected client."""

    def __init__(self, ctx: ApiContext, *, ring: int = RING) -> None:
        self.ctx = ctx
        # The newest changes, encoded once as the events every client sends: ids ascending beside their bytes, so
        # a client finds where it stands by bisection, not by scanning the ring on every change (200 clients x
        # 1,024 rows per change was most of a loaded gateway's stream latency).
        self.ids: list[int] = []
        self.events: list[bytes] = []
        self.ring_max = ring
        self.floor: int | None = None  # every row with id > floor (up to `last`) is in the ring
        self.last = 0
        self.clients = 0
        self._changed = asyncio.Event()
        self._listener: NotifyListener | None = None
        self._lock = asyncio.Lock()
        self._stopping: set[asyncio.Task] = set()  # listeners being stopped (kept referenced until done)

    async def page(self, after: int, limit: int = PAGE) -> list[Row]:
        async with self.ctx.pool.connection() as conn:
            rows = await (await conn.execute(_SELECT, (after, limit))).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def after(self, last: int) -> tuple[list[bytes], int] | None:
        """The encoded events after `last` from the ring and the id of the newest, or None when the ring does not
        reach back that far."""
        if self.floor is None or last < self.floor:
            return None
        if last >= self.last:
            return [], last
        i = bisect.bisect_right(self.ids, last)
        return self.events[i:], self.ids[-1]

    def waiter(self) -> asyncio.Event:
        return self._changed

    async def refresh(self) -> None:
        async with self._lock:
            if self.floor is None:
                async with self.ctx.pool.connection() as conn:
                    (top,) = await (await conn.execute("SELECT coalesce(max(id), 0) FROM alert_changes")).fetchone()
                self.floor = self.last = top
            new = False
            while True:
                rows = await self.page(self.last)
                for row in rows:
                    self.ids.append(row[0])
                    self.events.append(_event(row))
                    self.last = row[0]
                    new = True
                if len(self.ids) > 2 * self.ring_max:  # trimmed in halves: amortised O(1) a row
                    cut = len(self.ids) - self.ring_max
                    self.floor = self.ids[cut - 1]
                    del self.ids[:cut], self.events[:cut]
                if len(rows) < PAGE:
                    break
            if new:
                changed, self._changed = self._changed, asyncio.Event()
                changed.set()

    async def join(self) -> None:
        self.clients += 1
        if self._listener is None:
            self._listener = NotifyListener(self.ctx.database_url, {CHANGES_CHANNEL: self.refresh})
            self._listener.start()

    async def leave(self) -> None:
        self.clients -= 1
        if self.clients == 0 and self._listener is not None:
            listener, self._listener = self._listener, None
            self.floor = None  # unheard while nobody listens: rebuilt from the store on the next join
            self.ids.clear()
            self.events.clear()
            # Stopped beside the request, not in it: a listener slow to cancel (mid-connect, mid-refresh) must not
            # hold the last client's handler, and with it a server stop, for aiohttp's whole shutdown timeout.
            stopping = asyncio.create_task(listener.stop())
            self._stopping.add(stopping)
            stopping.add_done_callback(self._stopping.discard)


def _start_id(request: web.Request) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise error(400, "bad_last_event_id", "Last-Event-ID must be an event id this stream sent", "last_event_id")
    return value


def _event(row: Row) -> bytes:
    return f"id: {row[0]}\nevent: {row[1]}\ndata: {row[2]}\n\n".encode()


def register(table: RouteTable, ctx: ApiContext, *, heartbeat_s: float = HEARTBEAT_S) -> ChangeHub:
    hub = ChangeHub(ctx)

    async def stream(request: web.Request) -> web.StreamResponse:
        last = _start_id(request)
        if last is None:  # a new client: what happens from now on
            async with ctx.pool.connection() as conn:
                (last,) = await (await conn.execute("SELECT coalesce(max(id), 0) FROM alert_changes")).fetchone()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
        await resp.prepare(request)
        await hub.join()

        async def serve() -> None:
            await resp.write(b"retry: 2000\n\n")
            await _serve(hub, resp, last, heartbeat_s)

        # Raced against the server closing, wherever the stream waits (a page, a write, the next change), so a
        # stop never waits for a stream.
        serving = asyncio.ensure_future(serve())
        closing = asyncio.ensure_future(ctx.closing.wait())
        try:
            await asyncio.wait({serving, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (serving, closing):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionResetError):  # the client went away
                await serving
            await hub.leave()
        return resp

    table.add("GET", "/api/alerts/stream", stream, roles=QUEUE_READERS, response=AlertChangeEvent,
              summary="Server-Sent Events of alert changes (new, update, end, review); resume with Last-Event-ID")
    return hub


async def _serve(hub: ChangeHub, resp: web.StreamResponse, last: int, heartbeat_s: float) -> None:
    while True:
        waiter = hub.waiter()  # taken before looking, so a change landing in between still wakes us
        cached = hub.after(last)
        full_page = False
        if cached is None:  # behind the ring: page from the store
            rows = await hub.page(last)
            full_page = len(rows) == PAGE
            events = [_event(row) for row in rows]
            newest = rows[-1][0] if rows else last
        else:
            events, newest = cached
        if events:
            await resp.write(b"".join(events))  # one write for what is pending: a slow reader only slows itself
            last = newest
        if full_page or events:
            continue
        if await _woken(waiter, hub.ctx.closing, heartbeat_s) is hub.ctx.closing:
            return
        if not waiter.is_set():
            await resp.write(b": heartbeat\n\n")
            # a NOTIFY lost while the listener reconnected is caught here at the latest
            if hub.after(last) == ([], last) and hub.floor is not None:
                with contextlib.suppress(Exception):
                    await hub.refresh()


async def _woken(waiter: asyncio.Event, closing: asyncio.Event, timeout: float) -> asyncio.Event | None:
    """Whichever event is set first within `timeout` (the server closing wins), else None."""
    if closing.is_set():
        return closing
    tasks = {asyncio.ensure_future(waiter.wait()), asyncio.ensure_future(closing.wait())}
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
    if closing.is_set():
        return closing
    return waiter if waiter.is_set() else None
