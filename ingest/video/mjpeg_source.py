"""HTTP MJPEG (multipart/x-mixed-replace) reader, and `open_source`, which picks the reader for a URL.

Each part is a JPEG; parts with a Content-Length are read by length, parts without by scanning to the next
boundary, and a bad length resynchronises on the next boundary. A part that does not decode is counted and
skipped. Frames get their arrival time (FrameTime.ARRIVAL) unless the part says when it was taken in an
`X-Timestamp` header (Unix seconds or ISO 8601; FrameTime.STREAM). Only the parts the sampler keeps are decoded:
`cv2.imdecode` is the costly step. `interrupt()` shuts the socket down, so a blocked read returns at once.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import urlsplit

import cv2
import numpy as np

from ingest.video.frames import FrameTime
from ingest.video.pyav_source import Clock, PyAvSource, is_file_url, utc_now
from ingest.video.sampling import FpsSampler
from ingest.video.state import (
    DecodeObserver,
    SourceCounters,
    SourceEnded,
    SourceError,
    SourceFrame,
    SourceOpenError,
    SourceStalled,
    VideoSource,
)
from ingest.video.urls import mask_url

MAX_PART_BYTES = 16 * 1024 * 1024
MAX_HEADER_BYTES = 16 * 1024
MAX_CONSECUTIVE_CORRUPT = 100
MJPEG_HINTS = (".mjpg", ".mjpeg", "mjpeg", "mjpg", "action=stream")
PYAV_HINTS = (".flv", ".m3u8", ".ts", ".mp4", ".mkv")
_TS_MIN, _TS_MAX = 946_684_800.0, 4_102_444_800.0  # 2000-01-01 .. 2100-01-01: anything else is not a clock


@dataclass(slots=True)
class Part:
    headers: dict[str, str]  # lower-case names
    body: bytes


def boundary_of(content_type: str) -> str | None:
    """The boundary of a multipart/x-mixed-replace Content-Type (quotes and leading dashes removed); None when
    the type is not multipart/x-mixed-replace or names no boundary."""
    kind, _, params = content_type.partition(";")
    if kind.strip().lower() != "multipart/x-mixed-replace":
        return None
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "boundary":
            value = value.strip().strip('"').lstrip("-")
            return value or None
    return None


def part_timestamp(headers: dict[str, str]) -> datetime | None:
    """The capture time in a part's X-Timestamp header, when it holds a plausible one."""
    raw = headers.get("x-timestamp", "").strip()
    if not raw:
        return None
    try:
        secs = float(raw)
    except ValueError:
        try:
            t = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None
        t = t if t.tzinfo else t.replace(tzinfo=UTC)
        secs = t.timestamp()
    if not _TS_MIN <= secs <= _TS_MAX:
        return None
    return datetime.fromtimestamp(secs, UTC)


class MultipartParser:
    """Incremental multipart parser: `feed` bytes as they arrive, get the complete parts. Pure (no I/O)."""

    def __init__(self, boundary: str, *, max_part: int = MAX_PART_BYTES) -> None:
        self.delim = b"--" + boundary.lstrip("-").encode("latin-1")
        self.max_part = max_part
        self.skipped = 0  # parts dropped as oversized or with unreadable headers
        self._buf = bytearray()
        self._state = "seek"
        self._headers: dict[str, str] = {}
        self._length: int | None = None

    def feed(self, data: bytes) -> list[Part]:
        self._buf += data
        parts: list[Part] = []
        while True:
            if self._state == "seek":
                if not self._seek():
                    return parts
            elif self._state == "headers":
                if not self._read_headers():
                    return parts
            else:
                part = self._read_body()
                if part is None:
                    return parts
                parts.append(part)

    def _seek(self) -> bool:
        i = self._buf.find(self.delim)
        if i < 0:
            del self._buf[:max(len(self._buf) - len(self.delim), 0)]
            return False
        eol = self._buf.find(b"\n", i + len(self.delim))
        if eol < 0:
            del self._buf[:i]
            return False
        del self._buf[:eol + 1]
        self._state = "headers"
        return True

    def _read_headers(self) -> bool:
        ends = [(i, n) for i, n in ((self._buf.find(b"\r\n\r\n"), 4), (self._buf.find(b"\n\n"), 2)) if i >= 0]
        if self._buf.startswith(b"\r\n") or self._buf.startswith(b"\n"):
            ends.append((0, 2 if self._buf.startswith(b"\r\n") else 1))
        if not ends:
            if len(self._buf) > MAX_HEADER_BYTES:
                self._skip()
            return False
        end, n = min(ends)
        block = bytes(self._buf[:end]).decode("latin-1")
        del self._buf[:end + n]
        headers: dict[str, str] = {}
        for line in block.splitlines():
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        self._headers = headers
        try:
            length = int(headers["content-length"]) if "content-length" in headers else None
        except ValueError:
            length = None
        self._length = length if length is not None and 0 <= length <= self.max_part else None
        self._state = "body"
        return True

    def _read_body(self) -> Part | None:
        if self._length is not None:
            if len(self._buf) < self._length:
                return None
            body = bytes(self._buf[:self._length])
            del self._buf[:self._length]
        else:
            i = self._buf.find(self.delim)
            if i < 0:
                if len(self._buf) > self.max_part:
                    self._skip()
                return None
            end = i
            if self._buf[:end].endswith(b"\r\n"):
                end -= 2
            elif self._buf[:end].endswith(b"\n"):
                end -= 1
            body = bytes(self._buf[:end])
            del self._buf[:i]
        self._state = "seek"
        return Part(self._headers, body)

    def _skip(self) -> None:
        self.skipped += 1
        self._buf.clear()
        self._state = "seek"


class MjpegSource:
    """One HTTP connection to an MJPEG stream; same use and yield shape as PyAvSource."""

    is_file = False

    def __init__(self, url: str, *, open_timeout_s: float = 10.0, read_timeout_s: float = 5.0,
                 sampler: FpsSampler | None = None, clock: Clock = utc_now,
                 on_decode: DecodeObserver | None = None) -> None:
        self.url = url
        self.open_timeout_s, self.read_timeout_s = open_timeout_s, read_timeout_s
        self.sampler, self.clock, self.on_decode = sampler, clock, on_decode
        self.counters = SourceCounters()
        self.boundary: str | None = None
        self._conn: http.client.HTTPConnection | None = None
        self._resp: http.client.HTTPResponse | None = None
        self._sock: socket.socket | None = None  # the connection hands its socket to the response and forgets it
        self._interrupted = threading.Event()

    def __enter__(self) -> MjpegSource:
        if self._resp is None:
            self.open()
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def open(self) -> None:
        """Connect and read the response head; raises SourceOpenError (refused, timeout, HTTP status, not MJPEG)."""
        resp = self._request()
        ctype = resp.getheader("Content-Type") or ""
        boundary = boundary_of(ctype)
        if boundary is None:
            self.close()
            raise SourceOpenError(f"{mask_url(self.url)} is not an MJPEG stream (Content-Type {ctype!r})",
                                  "not_video")
        self.boundary = boundary

    def _request(self) -> http.client.HTTPResponse:
        parts = urlsplit(self.url)
        cls = http.client.HTTPSConnection if parts.scheme.lower() == "https" else http.client.HTTPConnection
        conn = cls(parts.hostname or "", parts.port, timeout=self.open_timeout_s)
        self._conn = conn
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"User-Agent": "enforcegw", "Accept": "multipart/x-mixed-replace, image/jpeg, */*"}
        if parts.username is not None:
            import base64

            token = base64.b64encode(f"{parts.username}:{parts.password or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        try:
            conn.request("GET", path, headers=headers)
            self._sock = conn.sock
            resp = conn.getresponse()
        except ConnectionRefusedError as exc:
            self.close()
            raise SourceOpenError(f"cannot open {mask_url(self.url)}: {exc.strerror}", "refused") from None
        except TimeoutError:
            self.close()
            raise SourceOpenError(f"cannot open {mask_url(self.url)}: no answer in {self.open_timeout_s:g} s",
                                  "timeout") from None
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise SourceOpenError(f"cannot open {mask_url(self.url)}: {exc!r}", "io") from None
        self._resp = resp
        if resp.status != 200:
            self.close()
            raise SourceOpenError(f"{mask_url(self.url)} answered HTTP {resp.status} {resp.reason}", "http_status")
        if self._sock is not None:
            self._sock.settimeout(self.read_timeout_s)
        return resp

    def interrupt(self) -> None:
        self._interrupted.set()
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._interrupted.set()
        if self._resp is not None:
            with contextlib.suppress(Exception):
                self._resp.close()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = self._resp = None
        self._sock = None

    def __iter__(self) -> Iterator[SourceFrame]:
        if self._resp is None or self.boundary is None:
            raise RuntimeError("MjpegSource is not open")
        resp, parser, c = self._resp, MultipartParser(self.boundary), self.counters
        bad_run = 0
        while not self._interrupted.is_set():
            try:
                chunk = resp.read1(65536)
            except TimeoutError:
                raise SourceStalled(f"no data for {self.read_timeout_s:g} s (read timeout)") from None
            except (OSError, http.client.HTTPException, ValueError, AttributeError) as exc:
                if self._interrupted.is_set():
                    return
                raise SourceError(f"reading {mask_url(self.url)}: {exc!r}", "io") from None
            if not chunk:
                if self._interrupted.is_set():
                    return
                raise SourceEnded("the stream ended (server closed the connection)")
            for part in parser.feed(chunk):
                c.decoded += 1
                arrival = self.clock()
                stamped = part_timestamp(part.headers)
                capture, source = (stamped, FrameTime.STREAM) if stamped else (arrival, FrameTime.ARRIVAL)
                if self.sampler is not None and not self.sampler.keep(capture):
                    c.dropped_sampling += 1
                    continue
                t0 = time.perf_counter()
                image = cv2.imdecode(np.frombuffer(part.body, np.uint8), cv2.IMREAD_COLOR) if part.body else None
                if self.on_decode:
                    self.on_decode(time.perf_counter() - t0)
                if image is None or image.ndim != 3:
                    c.corrupt += 1
                    bad_run += 1
                    if bad_run >= MAX_CONSECUTIVE_CORRUPT:
                        raise SourceError(f"{bad_run} parts in a row were not JPEG images", "too_corrupt")
                    continue
                bad_run = 0
                c.kept += 1
                yield SourceFrame(image, None, capture, source)
            c.corrupt += parser.skipped
            parser.skipped = 0


def _adopt(src: MjpegSource, resp: http.client.HTTPResponse, boundary: str) -> MjpegSource:
    src._resp, src.boundary = resp, boundary
    return src


def open_source(url: str, *, rtsp_transport: str = "tcp", open_timeout_s: float = 10.0, read_timeout_s: float = 5.0,
                sampler: FpsSampler | None = None, file_start: datetime | None = None, clock: Clock = utc_now,
                on_decode: DecodeObserver | None = None) -> VideoSource:
    """The reader for `url`, not yet entered: MjpegSource for HTTP URLs that look like MJPEG or whose response
    says multipart/x-mixed-replace (that response is kept and read), PyAvSource for everything else. Probing an
    HTTP URL connects, so it may raise SourceOpenError."""
    pyav = PyAvSource(url, rtsp_transport=rtsp_transport, open_timeout_s=open_timeout_s,
                      read_timeout_s=read_timeout_s, sampler=sampler, file_start=file_start, clock=clock,
                      on_decode=on_decode)
    if is_file_url(url):
        return pyav
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        return pyav
    mjpeg = MjpegSource(url, open_timeout_s=open_timeout_s, read_timeout_s=read_timeout_s, sampler=sampler,
                        clock=clock, on_decode=on_decode)
    lowered = (parts.path + "?" + parts.query).lower()
    if any(h in lowered for h in MJPEG_HINTS):
        return mjpeg
    if parts.path.lower().endswith(PYAV_HINTS):
        return pyav
    resp = mjpeg._request()
    boundary = boundary_of(resp.getheader("Content-Type") or "")
    if boundary is not None:
        return _adopt(mjpeg, resp, boundary)
    mjpeg.close()
    return pyav
