"""The reference case-system receiver (`enforcegw case-sink`): what the delivery tests, the demo and the
benchmark push tasks to. It holds a case system to the same rules the gateway promises: a delivery must carry a
valid Standard Webhooks signature within the timestamp tolerance, and a `webhook-id` becomes one case however
often it arrives, across restarts of the sink too (the data file is the memory).

It can also play a bad day: answer a fraction of deliveries with 500 (seeded, so a run repeats), answer every
one with a fixed status, stall before answering, or refuse connections until a given time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import json
import os
import random
import time
from collections import Counter as Tally
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

import aiohttp
import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from gateway.cases.signing import (
    DEFAULT_TOLERANCE_S,
    IDEMPOTENCY_HEADER,
    VerificationError,
    WebhookSecret,
    parse_idempotency_key,
    verify,
    webhook_headers,
)
from gateway.errors import InputError

log = structlog.get_logger(__name__)

OUTCOMES = ("received", "duplicate", "refused", "invalid", "failed")
# Case numbers carry the year as the bureau counts it (China Standard Time), e.g. AJ2026000001.
_CASE_YEAR_TZ = timezone(timedelta(hours=8))
# How often a sink that is down re-reads its clock: short enough that it opens promptly after --down-until.
_DOWN_POLL_S = 0.1


class SinkDataError(InputError):
    """The data file holds something other than the sink's own JSON lines; the message names the line."""


class SinkListenError(InputError):
    """The address cannot be listened on (in use, not ours, unknown host)."""


@dataclass(frozen=True)
class Receipt:
    """One stored delivery, one JSON line of the data file. `body` is the exact text received, so a signature
    can be checked again from the file; `body_sha256` tells a reused id with another payload from a repeat."""

    id: str
    timestamp: int
    received_at: str
    case_no: str
    path: str
    headers: dict[str, str]
    body: str
    body_sha256: str


@dataclass(frozen=True)
class AckResult:
    status: int
    msg_id: str
    body: Any


class CaseSink:
    """An aiohttp server receiving signed case tasks on POST to any path.

    `status` (300-599) answers every POST with that code, before the signature is looked at; 429 and 503 carry
    `Retry-After` (`retry_after_s`, default 1 s). `fail_rate` answers that fraction of verified deliveries with
    500, drawn from `random.Random(seed)`. `stall_s` waits before handling a POST; a request whose sender gave up
    meanwhile is still handled, as a slow real receiver would, so the sender's retry arrives as a duplicate.
    `down_until` keeps the port closed (connection refused) until `clock()` reaches it. `clock` is Unix seconds;
    it dates receipts and checks timestamps."""

    def __init__(self, secrets: Sequence[WebhookSecret], *, host: str = "127.0.0.1", port: int = 0,
                 data_path: Path | None = None, fail_rate: float = 0.0, seed: int = 0, status: int | None = None,
                 retry_after_s: int | None = None, stall_s: float = 0.0, down_until: datetime | None = None,
                 tolerance_s: float = DEFAULT_TOLERANCE_S, case_prefix: str = "AJ",
                 clock: Callable[[], float] = time.time, max_body_bytes: int = 16 * 1024 * 1024) -> None:
        if not secrets:
            raise ValueError("a case sink needs at least one secret")
        if not 0.0 <= fail_rate <= 1.0:
            raise ValueError(f"fail rate must be within [0, 1], not {fail_rate}")
        if status is not None and not 300 <= status <= 599:
            raise ValueError(f"a forced status is a failure code from 300 to 599, not {status}")
        if retry_after_s is not None and retry_after_s < 0:
            raise ValueError(f"Retry-After is seconds from now, not {retry_after_s}")
        if not stall_s >= 0:
            raise ValueError(f"a stall is seconds, not {stall_s}")
        if down_until is not None and down_until.tzinfo is None:
            raise ValueError("down_until needs a time zone")
        self.secrets = list(secrets)
        self.host, self.port = host, port
        self.data_path = data_path
        self.fail_rate, self.status, self.stall_s = fail_rate, status, stall_s
        self.retry_after_s = retry_after_s
        self.down_until = down_until
        self.tolerance_s = tolerance_s
        self.case_prefix = case_prefix
        self.clock = clock
        self.max_body_bytes = max_body_bytes
        self._rng = random.Random(seed)
        self._receipts: list[Receipt] = []
        self._by_id: dict[str, Receipt] = {}
        self._data: TextIO | None = None
        self._runner: web.AppRunner | None = None
        self._opener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._open_error: SinkListenError | None = None
        self._stopping = asyncio.Event()
        self.counts: Tally[str] = Tally()
        # deliveries being handled now, and the most at once: what a sender's concurrency bound looks like here
        self.in_flight = self.max_in_flight = 0
        self.registry = CollectorRegistry()
        self._requests = Counter("enforcegw_case_sink_requests_total", "Deliveries by outcome: received (stored), "
                                 "duplicate (an id seen before), refused (signature or timestamp), invalid "
                                 "(bad request), failed (a failure it was told to answer)",
                                 ["outcome"], registry=self.registry)
        for outcome in OUTCOMES:
            self._requests.labels(outcome)

    # lifecycle

    async def start(self) -> None:
        """Load the data file and listen, or, before `down_until`, return at once and listen from then on."""
        self._stopping.clear()
        self._listening.clear()
        self._open_error = None
        self._load()
        app = web.Application(client_max_size=self.max_body_bytes)
        app.router.add_get("/", self._list)
        app.router.add_get("/healthz", self._health)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_post("/{path:.*}", self._receive)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await self._runner.setup()
        if self.down_until is not None and self.clock() < self.down_until.timestamp():
            log.info("case_sink.down", until=self.down_until.isoformat(), port=self.port)
            self._opener = asyncio.create_task(self._open_when_due())
        else:
            await self._listen()

    async def wait_listening(self) -> None:
        """Until the port is open; raises what kept it from opening."""
        if self._runner is None:
            raise RuntimeError("the case sink is not started")
        waiter = asyncio.ensure_future(self._listening.wait())
        tasks: set[asyncio.Future[Any]] = {waiter}
        if self._opener is not None:
            tasks.add(self._opener)
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if self._open_error is not None:
            raise self._open_error
        if not self._listening.is_set():
            raise RuntimeError("the case sink stopped before it listened")

    async def stop(self) -> None:
        self._stopping.set()
        if self._opener is not None:
            self._opener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._opener
            self._opener = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._data is not None:
            self._data.close()
            self._data = None
        self._listening.clear()

    async def __aenter__(self) -> CaseSink:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("the case sink has no port until it listens")
        return f"http://{self.host}:{self.port}"

    @property
    def receipts(self) -> list[Receipt]:
        return list(self._receipts)

    async def _open_when_due(self) -> None:
        assert self.down_until is not None
        while (left := self.down_until.timestamp() - self.clock()) > 0:
            await asyncio.sleep(min(left, _DOWN_POLL_S))
        try:
            await self._listen()
        except SinkListenError as exc:  # kept for wait_listening, which the owner awaits
            self._open_error = exc
            log.error("case_sink.cannot_listen", host=self.host, port=self.port, error=str(exc))

    async def _listen(self) -> None:
        assert self._runner is not None
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            raise SinkListenError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from None
        if self.port == 0:
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._listening.set()
        log.info("case_sink.listening", url=self.url, stored=len(self._receipts), data=str(self.data_path or ""))

    # the data file

    def _load(self) -> None:
        self._receipts, self._by_id = [], {}
        if self.data_path is None:
            return
        raw = self.data_path.read_bytes() if self.data_path.exists() else b""
        lines = raw.split(b"\n")
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                receipt = Receipt(**json.loads(line))
            except (ValueError, TypeError) as exc:
                if n == len(lines):
                    # the last line cut short by a crash mid-write: that delivery was never answered, so its
                    # sender sends it again; cut it off, or the next record would be appended to it
                    log.warning("case_sink.partial_line_dropped", data=str(self.data_path), line=n)
                    os.truncate(self.data_path, len(raw) - len(line))
                    raw = raw[: len(raw) - len(line)]
                    continue
                raise SinkDataError(f"{self.data_path}:{n}: not a case-sink record ({exc})") from None
            self._receipts.append(receipt)
            self._by_id[receipt.id] = receipt
        self._data = self.data_path.open("a", encoding="utf-8")
        if raw and not raw.endswith(b"\n"):
            self._data.write("\n")  # a whole record whose newline was not written yet

    def _store(self, receipt: Receipt) -> None:
        if self._data is not None:
            # flushed before the answer, so a sink killed after answering still knows the id when restarted
            self._data.write(json.dumps(asdict(receipt), ensure_ascii=False, separators=(",", ":")) + "\n")
            self._data.flush()
        self._receipts.append(receipt)
        self._by_id[receipt.id] = receipt

    def _next_case_no(self, now: float) -> str:
        year = datetime.fromtimestamp(now, _CASE_YEAR_TZ).year
        return f"{self.case_prefix}{year}{len(self._receipts) + 1:06d}"

    # handlers

    def _count(self, outcome: str) -> None:
        self.counts[outcome] += 1
        self._requests.labels(outcome).inc()

    def _error(self, status: int, outcome: str, code: str, message: str,
               headers: dict[str, str] | None = None) -> web.Response:
        self._count(outcome)
        return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)

    async def _receive(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._handle(request)
        finally:
            self.in_flight -= 1

    async def _handle(self, request: web.Request) -> web.Response:
        # the body first: once its sender gives up during the stall, the connection can no longer be read
        try:
            body = await request.read()
        except ConnectionResetError:  # the sender went away mid-body: nobody to answer, nothing to keep
            log.info("case_sink.connection_lost", remote=request.remote)
            return web.Response(status=400)
        if self.stall_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.stall_s)
            if self._stopping.is_set():
                return self._error(503, "failed", "stopping", "the case sink is shutting down")
        if self.status is not None:
            headers = {}
            if self.status in (429, 503) or self.retry_after_s is not None:
                headers["Retry-After"] = str(1 if self.retry_after_s is None else self.retry_after_s)
            return self._error(self.status, "failed", "forced_status", f"told to answer {self.status}", headers)
        now = self.clock()
        try:
            verified = verify(self.secrets, request.headers, body, now, self.tolerance_s)
        except VerificationError as exc:
            log.warning("case_sink.refused", reason=exc.code, error=str(exc), remote=request.remote,
                        id=request.headers.get("webhook-id", "")[:80])
            return self._error(401, "refused", exc.code, str(exc))
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is not None:
            try:
                if parse_idempotency_key(key) != verified.msg_id:
                    return self._error(400, "invalid", "idempotency_key_mismatch",
                                       "Idempotency-Key names another id than webhook-id")
            except ValueError as exc:
                return self._error(400, "invalid", "bad_idempotency_key", str(exc))
        if self.fail_rate and self._rng.random() < self.fail_rate:
            return self._error(500, "failed", "forced_failure", "told to fail this share of deliveries")
        digest = hashlib.sha256(body).hexdigest()
        seen = self._by_id.get(verified.msg_id)
        if seen is not None:
            if seen.body_sha256 != digest:
                log.warning("case_sink.id_reused", id=verified.msg_id, case_no=seen.case_no)
                return self._error(422, "invalid", "id_reused_with_another_body",
                                   f"webhook-id {verified.msg_id} was received with another body "
                                   f"(case {seen.case_no})")
            self._count("duplicate")
            log.info("case_sink.duplicate", id=verified.msg_id, case_no=seen.case_no)
            return web.json_response({"case_no": seen.case_no, "received": seen.id, "duplicate": True})
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return self._error(400, "invalid", "body_not_utf8", "a case task body is UTF-8 JSON")
        receipt = Receipt(
            id=verified.msg_id, timestamp=verified.timestamp,
            received_at=datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"),
            case_no=self._next_case_no(now), path=request.path,
            headers={k.lower(): v for k, v in request.headers.items()}, body=text, body_sha256=digest,
        )
        self._store(receipt)
        self._count("received")
        log.info("case_sink.received", id=receipt.id, case_no=receipt.case_no, bytes=len(body))
        return web.json_response({"case_no": receipt.case_no, "received": receipt.id})

    async def _list(self, request: web.Request) -> web.Response:
        if "text/html" in request.headers.get("Accept", ""):
            return web.Response(text=self._html(), content_type="text/html", charset="utf-8")
        return web.json_response({"count": len(self._receipts), "items": [asdict(r) for r in self._receipts]},
                                 dumps=lambda o: json.dumps(o, ensure_ascii=False))

    async def _health(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "stored": len(self._receipts), "in_flight": self.in_flight,
                                  "max_in_flight": self.max_in_flight, **{o: self.counts[o] for o in OUTCOMES}})

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    def _html(self) -> str:
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
                r.case_no, r.id, datetime.fromtimestamp(r.timestamp, UTC).isoformat(), r.received_at, r.path,
                r.body if len(r.body) <= 400 else r.body[:400] + "…")) + "</tr>"
            for r in self._receipts)
        return ("<!doctype html><meta charset=utf-8><title>case sink</title>"
                "<style>body{font:14px sans-serif}td{border-top:1px solid #ccc;padding:2px 6px;vertical-align:top}"
                "td:last-child{font-family:monospace;white-space:pre-wrap}</style>"
                f"<h1>case sink: {len(self._receipts)} received</h1><table><tr><th>case</th><th>webhook-id</th>"
                f"<th>signed at</th><th>received at</th><th>path</th><th>body</th></tr>{rows}</table>")

    # the receiver's side of the conversation

    async def ack(self, base_url: str, task_id: str, case_no: str, *, delivery_id: str | None = None,
                  timeout_s: float = 15.0) -> AckResult:
        """POST a signed acknowledgement `{"task_id", "case_no"[, "delivery_id"]}` to
        `{base_url}/api/tasks/{task_id}/ack`, signed with this sink's secrets. Its webhook-id is derived from the
        task and case number, so sending the same acknowledgement again is recognisably the same one."""
        fields: dict[str, str] = {"task_id": task_id, "case_no": case_no}
        if delivery_id is not None:
            fields["delivery_id"] = delivery_id
        body = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        msg_id = "ack_" + hashlib.sha256(f"{task_id}\n{case_no}".encode()).hexdigest()[:32]
        headers = {**webhook_headers(self.secrets, msg_id, int(self.clock()), body),
                   "Content-Type": "application/json"}
        url = f"{base_url.rstrip('/')}/api/tasks/{quote(task_id, safe='')}/ack"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session, \
                session.post(url, data=body, headers=headers) as resp:
            text = await resp.text()
        try:
            answer: Any = json.loads(text)
        except ValueError:
            answer = text
        log.info("case_sink.ack_sent", task_id=task_id, case_no=case_no, status=resp.status)
        return AckResult(resp.status, msg_id, answer)
