"""The live stream: Server-Sent Events of alert_changes, resumed with Last-Event-ID with no gap and no repeat,
after a disconnect, after a restart and from another process on the same database."""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import psycopg
import pytest
from psycopg.rows import dict_row

from api import stream
from gateway.alerts.store import record_change
from testkit.read_api import add_alert, add_device, read_client
from testkit.sse import sse_events

pytestmark = pytest.mark.integration

T0 = datetime(2026, 7, 1, 15, 0, tzinfo=UTC)
fast = functools.partial(stream.register, heartbeat_s=0.3)


def _changes(db_url: str, first: int, n: int, device: str = "d1") -> None:
    """n alert changes: a new alert, then updates of it (each its own transaction, like the alert service)."""
    with psycopg.connect(db_url) as conn:
        row = add_alert(conn, f"S-{first}", device, T0 + timedelta(minutes=first))
        for _ in range(n - 1):
            with conn.transaction():
                record_change(conn, "update", row)


async def _events(resp: aiohttp.ClientResponse, n: int, timeout: float = 10.0) -> list[dict]:
    return await sse_events(resp, n, timeout)


def _all_ids(db_url: str) -> list[int]:
    with psycopg.connect(db_url) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM alert_changes ORDER BY id")]


async def test_resume_after_disconnect_has_no_gap_and_no_repeat(db_url: str, tmp_path: Path) -> None:
    add_device(db_url, "d1")
    _changes(db_url, 1, 5)
    async with read_client(db_url, tmp_path, fast) as (client, _ctx):
        resp = await client.get("/api/alerts/stream", params={"last_event_id": "0"})
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
        first = await _events(resp, 3)
        resp.close()  # the client goes away mid-stream
        _changes(db_url, 2, 4)  # while it is away
        resp = await client.get("/api/alerts/stream", headers={"Last-Event-ID": str(first[-1]["id"])})
        rest = await _events(resp, 6)
        live_task = asyncio.ensure_future(_events(resp, 2))
        await asyncio.sleep(0.2)
        _changes(db_url, 3, 2)  # while it is connected: woken by NOTIFY
        live = await live_task
        resp.close()
    got = [e["id"] for e in first + rest + live]
    assert got == _all_ids(db_url)
    e = rest[2]
    assert e["event"] == e["data"]["type"] == "new" and e["data"]["clue_code"] == "S-2"
    assert e["data"]["alert"]["clue_code"] == "S-2" and "engine_alert_id" not in e["data"]["alert"]
    assert [x["event"] for x in live] == ["new", "update"]


async def test_a_new_client_gets_what_happens_from_now_and_heartbeats(db_url: str, tmp_path: Path) -> None:
    add_device(db_url, "d1")
    _changes(db_url, 1, 3)
    async with read_client(db_url, tmp_path, fast) as (client, _ctx):
        resp = await client.get("/api/alerts/stream")
        text = ""
        while ": heartbeat" not in text:
            text += (await asyncio.wait_for(resp.content.readline(), 5)).decode()
        assert "id:" not in text
        _changes(db_url, 2, 1)
        (ev,) = await _events(resp, 1)
        resp.close()
    assert ev["id"] == _all_ids(db_url)[-1] and ev["data"]["clue_code"] == "S-2"


@pytest.mark.parametrize("value", ["x", "-1", "1.5"])
async def test_a_bad_last_event_id_is_400(db_url: str, tmp_path: Path, value: str) -> None:
    async with read_client(db_url, tmp_path, fast) as (client, _ctx):
        resp = await client.get("/api/alerts/stream", headers={"Last-Event-ID": value})
        assert resp.status == 400 and (await resp.json())["error"]["field"] == "last_event_id"


async def test_resume_after_a_restart(db_url: str, tmp_path: Path) -> None:
    add_device(db_url, "d1")
    _changes(db_url, 1, 4)
    async with read_client(db_url, tmp_path, fast) as (client, _ctx):
        resp = await client.get("/api/alerts/stream", params={"last_event_id": "0"})
        before = await _events(resp, 2)
    _changes(db_url, 2, 3)  # while no API process runs
    async with read_client(db_url, tmp_path, fast) as (client, _ctx):
        resp = await client.get("/api/alerts/stream", headers={"Last-Event-ID": str(before[-1]["id"])})
        after = await _events(resp, 5)
        resp.close()
    assert [e["id"] for e in before + after] == _all_ids(db_url)


_SERVE = """
import asyncio, functools, sys
from pathlib import Path
from aiohttp import web
from api import stream
from testkit.read_api import app_from_table, read_context
from api.routes import RouteTable

async def main(db_url, data_dir, port):
    async with read_context(db_url, Path(data_dir)) as ctx:
        table = RouteTable()
        stream.register(table, ctx, heartbeat_s=0.3)
        runner = web.AppRunner(app_from_table(table))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        print("ready", flush=True)
        await asyncio.Event().wait()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_resume_on_another_process(db_url: str, tmp_path: Path) -> None:
    add_device(db_url, "d1")
    _changes(db_url, 1, 3)
    port = _free_port()
    other = subprocess.Popen([sys.executable, "-c", _SERVE, db_url, str(tmp_path / "other"), str(port)],
                             stdout=subprocess.PIPE, env={**os.environ})
    try:
        async with read_client(db_url, tmp_path, fast) as (client, _ctx):
            resp = await client.get("/api/alerts/stream", params={"last_event_id": "0"})
            here = await _events(resp, 2)
            resp.close()
        ready = await asyncio.wait_for(asyncio.to_thread(other.stdout.readline), 30)  # type: ignore[union-attr]
        assert ready.strip() == b"ready"
        _changes(db_url, 2, 2)
        async with aiohttp.ClientSession() as session, session.get(
                f"http://127.0.0.1:{port}/api/alerts/stream", headers={"Last-Event-ID": str(here[-1]["id"])}) as resp:
            there = await _events(resp, 3)
            live_task = asyncio.ensure_future(_events(resp, 1))
            await asyncio.sleep(0.2)
            _changes(db_url, 3, 1)  # written by this process, announced to the other by NOTIFY
            live = await live_task
    finally:
        other.terminate()
        other.wait(10)
    assert [e["id"] for e in here + there + live] == _all_ids(db_url)


async def test_a_client_far_behind_pages_from_the_store(db_url: str, tmp_path: Path) -> None:
    add_device(db_url, "d1")
    _changes(db_url, 1, stream.PAGE + 50)
    async with read_client(db_url, tmp_path, fast) as (client, _ctx):
        resp = await client.get("/api/alerts/stream", params={"last_event_id": "0"})
        got = await _events(resp, stream.PAGE + 50)
        resp.close()
    assert [e["id"] for e in got] == _all_ids(db_url)


def test_changes_come_from_the_alert_row(db_url: str) -> None:
    add_device(db_url, "d1")
    with psycopg.connect(db_url) as conn:
        row = add_alert(conn, "R-1", "d1", T0)
        with conn.transaction():
            change = record_change(conn, "review", row, review={"decision": "confirm", "by": 7})
        got = conn.cursor(row_factory=dict_row).execute("SELECT * FROM alert_changes WHERE id = %s",
                                                        (change,)).fetchone()
    assert got["alert_id"] == row["id"] and got["clue_code"] == "R-1" and got["type"] == "review"
    assert got["payload"]["review"] == {"decision": "confirm", "by": 7} and got["payload"]["status"] == "new"
