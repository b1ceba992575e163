"""One stream's worker: its own thread connects, reads, samples to the target fps, hands frames on, and reconnects
with back-off and jitter when the stream fails, stalls or drops.

The reader reads as fast as the source delivers and never waits on the sink (the detection stage's `put` queues
or drops at once), so no backlog grows inside FFmpeg or the socket: a slow consumer costs frames, never lag.
Only sampled frames are converted to images. States: `connecting` (opening, or waiting to retry), `live`,
`stalled` (no frame for stall_after_s; reopening), `failed` (video.reconnect.failed_after attempts in a row
without a frame; still retrying), `stopped`. The back-off restarts from its first delay once the stream has been
live for `live_reset_s`, so a stream that drops now and then does not wait the longest delay each time.

A file source (file:// or a path) is read at its own pace (frame times follow its PTS, as a camera would send
them) unless `pace_files=False`, and ends in `stopped` at its end.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime

import structlog

from ingest.video.backoff import Backoff
from ingest.video.config import StreamConfig, VideoConfig
from ingest.video.frames import Frame, FrameSink
from ingest.video.metrics import VideoMetrics
from ingest.video.mjpeg_source import open_source
from ingest.video.pyav_source import Clock, utc_now
from ingest.video.sampling import FpsSampler
from ingest.video.state import (
    SourceCounters,
    SourceError,
    SourceFrame,
    SourceStalled,
    StreamState,
    StreamStatus,
    VideoSource,
)
from ingest.video.urls import mask_url

log = structlog.get_logger(__name__)

LIVE_RESET_S = 10.0
FPS_WINDOW_S = 5.0
_COUNTED = ("decoded", "kept", "dropped_sampling", "corrupt", "pts_resets")


class StreamWorker:
    def __init__(self, config: StreamConfig, video: VideoConfig, sink: FrameSink, *,
                 metrics: VideoMetrics | None = None, url: str | None = None, rng: random.Random | None = None,
                 clock: Clock = utc_now, on_status: Callable[[StreamStatus], None] | None = None,
                 file_start: datetime | None = None, pace_files: bool = True,
                 live_reset_s: float = LIVE_RESET_S) -> None:
        self.config, self.video, self.sink, self.metrics = config, video, sink, metrics
        self.url = url or config.url
        self.clock, self.on_status, self.file_start = clock, on_status, file_start
        self.pace_files, self.live_reset_s = pace_files, live_reset_s
        self.rtsp_transport = config.rtsp_transport or video.rtsp_transport
        self._backoff = Backoff.from_config(video.reconnect, rng)
        self._sampler = FpsSampler(config.fps)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._source: VideoSource | None = None
        self._seq = 0
        self._kept_times: deque[float] = deque()
        self._seen = SourceCounters()
        self._totals = SourceCounters()
        detail: dict[str, object] = {}
        if self.url != config.url:
            detail["read_url"] = mask_url(self.url)
        self._status = StreamStatus(id=config.id, url=mask_url(config.url), device_id=config.device_id,
                                    state=StreamState.STOPPED, since=clock(), detail=detail)

    # -- control ------------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self.alive():
            return
        self._stop.clear()
        self._set(StreamState.CONNECTING)
        self._thread = threading.Thread(target=self._run, name=f"stream-{self.config.id}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to end without waiting (stopping many workers: request each, then stop each)."""
        self._stop.set()
        src = self._source
        if src is not None:
            src.interrupt()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop reading; True when the thread ended within `timeout`. An MJPEG read is cut at once (its socket is
        shut down); a PyAV read blocked on a silent source returns at its read timeout (stall_after_s) at the
        latest, since PyAV offers no way to fire its interrupt callback early. The status says `stopped` at once."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
        self._set(StreamState.STOPPED)
        return not self.alive()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> StreamStatus:
        with self._lock:
            s = dataclasses.replace(self._status, detail=dict(self._status.detail))
            s.fps = self._fps(time.monotonic())
            s.detail.update({k: getattr(self._totals, k) for k in ("decoded", "dropped_sampling", "corrupt",
                                                                    "pts_resets")})
            return s

    # -- the thread ---------------------------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        try:
            while not self._stop.is_set():
                got_frame, error, ended = self._attempt()
                if self._stop.is_set():
                    break
                if ended:
                    self._set(StreamState.STOPPED, last_error=None, ended=True)
                    return
                if got_frame:
                    failures = 0
                else:
                    failures += 1
                delay = self._backoff.next_delay()
                if failures >= self.video.reconnect.failed_after:
                    state = StreamState.FAILED
                elif isinstance(error, SourceStalled):
                    state = StreamState.STALLED
                else:
                    state = StreamState.CONNECTING
                message = str(error) if error else "the stream ended"
                log.warning("video.stream_lost", stream=self.config.id, state=str(state), error=message,
                            retry_in_s=round(delay, 3), failures=failures)
                self._set(state, last_error=message, reason=getattr(error, "reason", "ended"),
                          retry_in_s=round(delay, 3), failures=failures)
                if self._stop.wait(delay):
                    break
                with self._lock:
                    self._status.reconnects += 1
                if self.metrics:
                    self.metrics.reconnect(self.config.id)
                if self._status.state is not StreamState.FAILED:
                    self._set(StreamState.CONNECTING)
        finally:
            self._set(StreamState.STOPPED)

    def _attempt(self) -> tuple[bool, SourceError | None, bool]:
        """One connection: (got a frame, the error that ended it, a file reached its end)."""
        got_frame = False
        src: VideoSource | None = None
        self._sampler.reset()
        self._seen = SourceCounters()
        try:
            src = open_source(self.url, rtsp_transport=self.rtsp_transport,
                              open_timeout_s=self.config.open_timeout_s, read_timeout_s=self.config.stall_after_s,
                              sampler=self._sampler, file_start=self.file_start, clock=self.clock,
                              on_decode=self.metrics.observe_decode if self.metrics else None)
            self._source = src
            if self._stop.is_set():
                return False, None, False
            with src:
                live_since = time.monotonic()
                pace = _Pacer() if src.is_file and self.pace_files else None
                for f in src:
                    if not got_frame:
                        got_frame = True
                        live_since = time.monotonic()
                        self._set(StreamState.LIVE, last_error=None, retry_in_s=None, reason=None, failures=0)
                    if pace is not None and pace.wait(f.pts_s, self._stop):
                        break
                    self._hand_on(f, src)
                    if self._backoff.attempt and time.monotonic() - live_since >= self.live_reset_s:
                        self._backoff.reset()
                    if self._stop.is_set():
                        break
                else:
                    return got_frame, None, src.is_file
            return got_frame, None, False
        except SourceError as exc:
            return got_frame, exc, False
        except Exception as exc:  # a bug in a reader must not end the worker: it shows as the stream's error
            log.exception("video.reader_failed", stream=self.config.id)
            return got_frame, SourceError(f"internal error: {exc!r}", "internal"), False
        finally:
            if src is not None:
                self._sync(src.counters)
            self._source = None

    def _hand_on(self, f: SourceFrame, src: VideoSource) -> None:
        received = self.clock()
        self._seq += 1
        frame = Frame(stream_id=self.config.id, device_id=self.config.device_id, seq=self._seq, image=f.image,
                      time=f.capture_time, time_source=f.time_source, received_at=received, pts_s=f.pts_s)
        try:
            self.sink.put(frame)
        except Exception:  # the consumer's bug costs this frame, not the stream
            log.exception("video.sink_failed", stream=self.config.id, seq=self._seq)
        now_mono = time.monotonic()
        with self._lock:
            self._kept_times.append(now_mono)
            while self._kept_times and self._kept_times[0] < now_mono - FPS_WINDOW_S:
                self._kept_times.popleft()
            self._status.last_frame_at = received
            self._status.time_source = f.time_source
        self._sync(src.counters)
        if self.metrics:
            self.metrics.set_lag(self.config.id, (self.clock() - f.capture_time).total_seconds())

    def _sync(self, counters: SourceCounters) -> None:
        """Add what the source counted since the last sync to the totals, the status and the metrics."""
        deltas = {k: getattr(counters, k) - getattr(self._seen, k) for k in _COUNTED}
        self._seen = dataclasses.replace(counters)
        with self._lock:
            for k, d in deltas.items():
                setattr(self._totals, k, getattr(self._totals, k) + d)
            self._status.frames_read = self._totals.decoded
            self._status.frames_kept = self._totals.kept
        if self.metrics:
            for k in ("decoded", "kept", "dropped_sampling", "corrupt"):
                self.metrics.count(self.config.id, k, deltas[k])

    def _fps(self, now_mono: float) -> float | None:
        times = [t for t in self._kept_times if t >= now_mono - FPS_WINDOW_S]
        if len(times) < 2:
            return 0.0 if self._status.state is not StreamState.LIVE or not times else None
        return (len(times) - 1) / max(times[-1] - times[0], 1e-6)

    def _set(self, state: StreamState, **detail: object) -> None:
        """Set the state (and `last_error` / detail keys given; None removes a detail key); calls on_status."""
        with self._lock:
            s = self._status
            changed = s.state is not state
            if changed:
                s.state, s.since = state, self.clock()
            if "last_error" in detail:
                s.last_error = detail.pop("last_error")  # type: ignore[assignment]
            for k, v in detail.items():
                if v is None:
                    s.detail.pop(k, None)
                else:
                    s.detail[k] = v
        if changed and self.metrics:
            self.metrics.set_state(self.config.id, state)
        if self.on_status and (changed or detail):
            self.on_status(self.status())


class _Pacer:
    """Waits until a file's frame is due: the first frame at once, the next ones at their PTS offsets."""

    def __init__(self) -> None:
        self._origin: tuple[float, float] | None = None  # (monotonic, pts)

    def wait(self, pts_s: float | None, stop: threading.Event) -> bool:
        """True when `stop` was set while waiting."""
        if pts_s is None:
            return stop.is_set()
        now = time.monotonic()
        if self._origin is None or pts_s < self._origin[1]:
            self._origin = (now, pts_s)
            return stop.is_set()
        delay = self._origin[0] + (pts_s - self._origin[1]) - now
        return stop.wait(delay) if delay > 0 else stop.is_set()
