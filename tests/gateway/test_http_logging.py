"""Malformed HTTP requests: one structured, rate-limited line each, never aiohttp's traceback."""

from __future__ import annotations

import asyncio
import logging

import pytest
from structlog.testing import capture_logs

from gateway.health import HttpServer, build_app
from gateway.log_throttle import LogThrottle
from gateway.metrics import Metrics

GARBAGE = [
    pytest.param(b"\x00\x01\x02\xff garbage\r\n\r\n", id="binary-first-request"),
    pytest.param(b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", id="header-without-colon"),
    pytest.param(b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", id="bad-version"),
    pytest.param(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", id="bad-content-length"),
    pytest.param(b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", id="oversize-request-line"),
    pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(32)) + b"\r\n\r\n", id="tls-hello"),
]


async def _send(port: int, data: bytes) -> bytes:
    """A real socket: write raw bytes, read what the server answers until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


def _refused(logs: list[dict]) -> list[dict]:
    return [e for e in logs if e["event"] == "http.request_refused"]


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("aiohttp") and r.exc_info]


def _refused_total(metrics: Metrics) -> float:
    return sum(s.value for m in metrics.http_refused.collect() for s in m.samples if s.name.endswith("_total"))


@pytest.mark.parametrize("garbage", GARBAGE)
async def test_malformed_request_logs_one_line_without_traceback(
    garbage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics()
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    with capture_logs() as logs:
        server = HttpServer(build_app(metrics, {}), "127.0.0.1", 0, metrics=metrics)
        await server.start()
        try:
            reply = await _send(server.port, garbage)
        finally:
            await server.stop()
    assert reply.split(b" ", 2)[1].startswith(b"4"), reply[:80]
    (line,) = _refused(logs)
    assert line["log_level"] == "warning" and line["remote"] == "127.0.0.1"
    assert line["status"] == 400 and line["suppressed_since_last"] == 0
    assert line["error"] and "\n" not in line["error"] and len(line["error"]) <= 203
    assert not _tracebacks(caplog)
    assert _refused_total(metrics) == 1


async def test_flood_of_malformed_requests_is_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    metrics = Metrics()
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    with capture_logs() as logs:
        server = HttpServer(build_app(metrics, {}), "127.0.0.1", 0, metrics=metrics,
                            refused_throttle=LogThrottle(limit=3, per_s=60, clock=lambda: now[0]))
        await server.start()
        try:
            for _ in range(10):
                await _send(server.port, b"BREW /pot HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n")
            assert len(_refused(logs)) == 3
            now[0] = 61.0  # the next minute
            await _send(server.port, b"\x00\x00\x00\r\n\r\n")
            reply = await _send(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        finally:
            await server.stop()
    lines = _refused(logs)
    assert len(lines) == 4
    assert [e["suppressed_since_last"] for e in lines] == [0, 0, 0, 7]
    assert _refused_total(metrics) == 11
    assert not _tracebacks(caplog)
    assert reply.startswith(b"HTTP/1.1 200")  # well-formed requests are still served


def test_throttle_counts_what_it_holds_back() -> None:
    now = [100.0]
    t = LogThrottle(limit=2, per_s=10, clock=lambda: now[0])
    assert [t.admit() for _ in range(5)] == [0, 0, None, None, None]
    now[0] = 109.9
    assert t.admit() is None
    now[0] = 110.0
    assert [t.admit(), t.admit(), t.admit()] == [4, 0, None]
    with pytest.raises(ValueError):
        LogThrottle(limit=0)
