"""RTSP, RTMP, HTTP-FLV, HLS and file reader on PyAV (FFmpeg's libraries), with PTS anchored to the wall clock.

Why PyAV rather than OpenCV's VideoCapture (both wrap the same FFmpeg):
  * every decoded frame comes with its PTS and the stream's time_base, and the container with its start time and
    metadata (`creation_time`), so a frame's capture time is computed, not guessed; VideoCapture's
    CAP_PROP_POS_MSEC is a position estimate that hides whether the stream had timestamps at all;
  * demuxer and protocol options are passed per stream (`rtsp_transport`, socket `timeout`, `rw_timeout`,
    `analyzeduration`) instead of through one process-wide OPENCV_FFMPEG_CAPTURE_OPTIONS variable;
  * open and read timeouts are an interrupt callback (`av.open(timeout=(open, read))`), so a dead camera
    cannot hang a worker;
  * failures are typed exceptions carrying FFmpeg's message (ConnectionRefusedError, InvalidDataError,
    HTTP 404 ...), where VideoCapture returns False and logs to stderr;
  * decoder threading is chosen per stream (`thread_type="AUTO"`: slice and frame threads);
  * a frame decoded over lost data is flagged (`is_corrupt`), so it is counted and dropped, not handed on;
  * decoding and conversion are separate steps: every H.264 frame must be decoded (the next ones refer to it),
    but only the frames the sampler keeps pay for `to_ndarray("bgr24")`, the costly colour conversion.
Hardware decode is not used: FFmpeg's hwaccels need a device this gateway cannot assume.

Frame time: live sources anchor PTS to the wall clock at the first frame after connect (capture = anchor_wall +
(pts - first_pts)), and move the anchor earlier whenever a frame arrives sooner than that says (the frames buffered
while FFmpeg probes the stream arrive in a burst, so the first one's arrival is late by the probe), never later, so
a reader falling behind shows as lag and no capture time is in the future; a PTS that runs backwards, or that moves
more than PTS_JUMP_S away from the wall clock between two frames, re-anchors the stream at that frame (counted in
`counters.pts_resets`); a frame without PTS gets its arrival time (FrameTime.ARRIVAL). Files anchor PTS to
`file_start`, else to the container's `creation_time` (FrameTime.FILE); a file with neither is anchored to the
arrival of its first frame (FrameTime.ARRIVAL: the offsets between its frames are still the file's own).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

import av
import av.error

from ingest.video.frames import FrameTime
from ingest.video.sampling import FpsSampler
from ingest.video.state import (
    DecodeObserver,
    SourceCounters,
    SourceEnded,
    SourceError,
    SourceFrame,
    SourceOpenError,
    SourceStalled,
)
from ingest.video.urls import mask_url

PTS_JUMP_S = 5.0  # PTS moving this much further (or less) than the wall clock between two frames is a jump
MAX_CONSECUTIVE_CORRUPT = 200  # packets in a row that fail to decode: the stream is garbage, not a glitch
LIVE_ANALYZE_US = 500_000  # probe a live stream for 0.5 s, not FFmpeg's 5 s, so a connect shows frames sooner

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def is_file_url(url: str) -> bool:
    """file:// URLs, plain paths and Windows drive paths (`C:\\...`) are files; every other scheme is a stream."""
    scheme = urlsplit(url).scheme.lower()
    return scheme in ("", "file") or len(scheme) == 1


def file_path(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme.lower() == "file":
        return unquote(parts.path)
    return url


def av_options(url: str, *, rtsp_transport: str = "tcp", socket_timeout_s: float = 6.0) -> dict[str, str]:
    """FFmpeg options for opening `url`: socket timeouts in microseconds, RTSP transport, a short probe for live.

    The socket timeouts are a backstop set a second beyond PyAV's open and read timeouts, which fire first and
    are reported as timeouts."""
    if is_file_url(url):
        return {}
    us = str(int(socket_timeout_s * 1_000_000))
    scheme = urlsplit(url).scheme.lower()
    opts = {"rw_timeout": us, "analyzeduration": str(LIVE_ANALYZE_US)}
    if scheme in ("rtsp", "rtsps"):
        opts["rtsp_transport"] = rtsp_transport
        opts["timeout"] = us  # RTSP's socket I/O timeout
    return opts


def ffmpeg_message(exc: BaseException) -> str:
    """FFmpeg's own words, without the URL it appends (which may carry a password)."""
    strerror = getattr(exc, "strerror", None)
    return f"{type(exc).__name__}: {strerror}" if strerror else f"{type(exc).__name__}: {exc}"


def reason_of(exc: BaseException) -> str:
    if isinstance(exc, av.error.ExitError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, av.error.HTTPError | av.error.HTTPClientError | av.error.HTTPServerError):
        return "http_status"
    if isinstance(exc, av.error.InvalidDataError):
        return "invalid_data"
    if isinstance(exc, FileNotFoundError):
        return "not_found"
    return "io"


def creation_time(metadata: dict[str, str]) -> datetime | None:
    """The container's `creation_time` (ISO 8601, UTC when it has no zone); None when absent or unreadable."""
    raw = metadata.get("creation_time")
    if not raw:
        return None
    try:
        t = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.year < 1971:  # muxers write the epoch (or 1904) when the camera clock was unset
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


class PtsClock:
    """Capture times from PTS: pure apart from the arrival times it is given."""

    def __init__(self, *, live: bool, file_start: datetime | None = None, start_pts: float | None = None) -> None:
        self.live = live
        self.file_start = file_start
        self.start_pts = start_pts
        self.resets = 0
        self._anchor_wall: datetime | None = None
        self._anchor_pts = 0.0
        self._last: tuple[float, float] | None = None  # (pts, arrival monotonic) of the previous frame

    def capture_time(self, pts_s: float | None, arrival: datetime, arrival_mono: float) -> tuple[datetime, FrameTime]:
        if pts_s is None:
            return arrival, FrameTime.ARRIVAL
        if not self.live:
            return self._file_time(pts_s, arrival)
        if self._anchor_wall is None:
            self._anchor(pts_s, arrival)
        elif self._last is not None:
            last_pts, last_mono = self._last
            drift = (pts_s - last_pts) - (arrival_mono - last_mono)
            if pts_s < last_pts or abs(drift) > PTS_JUMP_S:
                self.resets += 1
                self._anchor(pts_s, arrival)
        self._last = (pts_s, arrival_mono)
        assert self._anchor_wall is not None
        self._anchor_wall = min(self._anchor_wall, arrival - timedelta(seconds=pts_s - self._anchor_pts))
        return self._anchor_wall + timedelta(seconds=pts_s - self._anchor_pts), FrameTime.STREAM

    def _anchor(self, pts_s: float, arrival: datetime) -> None:
        self._anchor_wall, self._anchor_pts = arrival, pts_s

    def _file_time(self, pts_s: float, arrival: datetime) -> tuple[datetime, FrameTime]:
        if self.start_pts is None:
            self.start_pts = pts_s
        if self.file_start is not None:
            return self.file_start + timedelta(seconds=pts_s - self.start_pts), FrameTime.FILE
        if self._anchor_wall is None:
            self._anchor(self.start_pts, arrival)
        assert self._anchor_wall is not None
        return self._anchor_wall + timedelta(seconds=pts_s - self._anchor_pts), FrameTime.ARRIVAL


class PyAvSource:
    """One connection to a source; `with PyAvSource(url) as src: for f in src: ...` yields `SourceFrame`s.

    With a `sampler`, every frame is decoded but only the kept ones are converted and yielded. A live stream
    that ends raises SourceEnded; a file that ends stops the iteration. `interrupt()` may be called from any
    thread: the reading thread returns at its next packet, or at the read timeout if none comes."""

    def __init__(self, url: str, *, rtsp_transport: str = "tcp", open_timeout_s: float = 10.0,
                 read_timeout_s: float = 5.0, sampler: FpsSampler | None = None, file_start: datetime | None = None,
                 clock: Clock = utc_now, on_decode: DecodeObserver | None = None,
                 thread_type: str = "AUTO") -> None:
        self.url = url
        self.is_file = is_file_url(url)
        self.rtsp_transport = rtsp_transport
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.sampler = sampler
        self.file_start = file_start
        self.clock = clock
        self.on_decode = on_decode
        self.thread_type = thread_type
        self.counters = SourceCounters()
        self.width: int | None = None
        self.height: int | None = None
        self.codec: str | None = None
        self._container: av.container.InputContainer | None = None
        self._pts: PtsClock | None = None
        self._interrupted = threading.Event()
        self._last_packet = 0.0

    def __enter__(self) -> PyAvSource:
        self.open()
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def open(self) -> None:
        target = file_path(self.url) if self.is_file else self.url
        if self.is_file and not Path(target).is_file():
            raise SourceOpenError(f"no such file: {target}", "not_found")
        started = time.monotonic()
        try:
            backstop = max(self.open_timeout_s, self.read_timeout_s) + 1.0
            container = av.open(target, options=av_options(self.url, rtsp_transport=self.rtsp_transport,
                                                            socket_timeout_s=backstop),
                                timeout=(self.open_timeout_s, self.read_timeout_s))
        except av.error.FFmpegError as exc:
            # the RTSP demuxer reports its interrupted open as "Invalid data found": the time taken tells them apart
            timed_out = time.monotonic() - started >= self.open_timeout_s * 0.95
            if not (isinstance(exc, av.error.ExitError) or timed_out):
                raise SourceOpenError(f"cannot open {mask_url(self.url)}: {ffmpeg_message(exc)}",
                                      reason_of(exc)) from None
            raise SourceOpenError(f"cannot open {mask_url(self.url)}: no stream within {self.open_timeout_s:g} s "
                                  "(open timeout)", "timeout") from None
        except OSError as exc:
            raise SourceOpenError(f"cannot open {mask_url(self.url)}: {exc}", "io") from None
        if not container.streams.video:
            container.close()
            raise SourceOpenError(f"{mask_url(self.url)} has no video stream", "not_video")
        stream = container.streams.video[0]
        stream.thread_type = self.thread_type
        self._container = container
        self.codec = stream.codec_context.name
        self.width, self.height = stream.codec_context.width or None, stream.codec_context.height or None
        start_pts = None
        if stream.start_time is not None and stream.time_base is not None:
            start_pts = float(stream.start_time * stream.time_base)
        file_start = self.file_start
        if self.is_file and file_start is None:
            file_start = creation_time(dict(container.metadata))
        self._pts = PtsClock(live=not self.is_file, file_start=file_start, start_pts=start_pts)

    def interrupt(self) -> None:
        self._interrupted.set()

    def close(self) -> None:
        self._interrupted.set()
        if self._container is not None:
            self._container.close()
            self._container = None

    def __iter__(self) -> Iterator[SourceFrame]:
        if self._container is None or self._pts is None:
            raise RuntimeError("PyAvSource is not open")
        self._last_packet = time.monotonic()
        try:
            yield from self._frames(self._container, self._pts)
        except av.error.FFmpegError as exc:
            if self._interrupted.is_set():
                return
            # demuxers report an interrupted read in their own words (RTSP: "Invalid data found", or an end);
            # a read that failed after the whole read timeout of silence is a stall, whatever it was called
            if isinstance(exc, av.error.ExitError) or self._silent_for_timeout():
                raise SourceStalled(f"no data for {self.read_timeout_s:g} s (read timeout)") from None
            if not isinstance(exc, av.error.EOFError):
                raise SourceError(f"reading {mask_url(self.url)}: {ffmpeg_message(exc)}", reason_of(exc)) from None
        if not self.is_file and not self._interrupted.is_set():
            if self._silent_for_timeout():
                raise SourceStalled(f"no data for {self.read_timeout_s:g} s (read timeout)")
            raise SourceEnded("the stream ended (server closed it)")

    def _silent_for_timeout(self) -> bool:
        return not self.is_file and time.monotonic() - self._last_packet >= self.read_timeout_s * 0.95

    def _frames(self, container: av.container.InputContainer, pts: PtsClock) -> Iterator[SourceFrame]:
        stream = container.streams.video[0]
        c = self.counters
        last_frame_mono = time.monotonic()
        bad_run = 0
        for packet in container.demux(stream):
            self._last_packet = time.monotonic()
            if self._interrupted.is_set():
                return
            t0 = time.perf_counter()
            try:
                frames = packet.decode()
            except (av.error.InvalidDataError, av.error.UndefinedError, ValueError):
                c.corrupt += 1
                bad_run += 1
                if bad_run >= MAX_CONSECUTIVE_CORRUPT:
                    raise SourceError(f"{bad_run} packets in a row failed to decode", "too_corrupt") from None
                continue
            per_frame = (time.perf_counter() - t0) / max(len(frames), 1)
            now_mono = time.monotonic()
            if frames:
                bad_run = 0
                last_frame_mono = now_mono
            elif not self.is_file and now_mono - last_frame_mono > self.read_timeout_s:
                raise SourceStalled(f"packets but no decodable frame for {self.read_timeout_s:g} s")
            for frame in frames:
                c.decoded += 1
                if frame.is_corrupt:
                    # decoded over a lost packet (RTSP over UDP, a damaged file): smeared, no use as evidence;
                    # dropped before the sampler, so the next whole frame takes its slot
                    c.corrupt += 1
                    continue
                pts_s = float(frame.time) if frame.time is not None else None
                capture, source = pts.capture_time(pts_s, self.clock(), now_mono)
                c.pts_resets = pts.resets
                if self.sampler is not None and not self.sampler.keep(capture):
                    c.dropped_sampling += 1
                    if self.on_decode:
                        self.on_decode(per_frame)
                    continue
                t1 = time.perf_counter()
                image = frame.to_ndarray(format="bgr24")
                if self.on_decode:
                    self.on_decode(per_frame + time.perf_counter() - t1)
                c.kept += 1
                yield SourceFrame(image, pts_s, capture, source)
