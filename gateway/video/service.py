"""The gateway's video streams: one runner per enabled stream (ZLMediaKit proxy, DJI live push, the stream
worker), every worker supervised, frames of drone streams paired with the drone's poses on their way to the frame
stage, and each stream's status written to the store every few seconds and on stop.

Nothing here waits on a stream: a stream that cannot be reached is that stream's state, never a gateway that
will not start."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg
import structlog

from gateway.video.frame_stage import FrameStage
from gateway.video.runner import LivePusher, ProxyClient, StreamRunner
from gateway.video.status_store import reporter_name, stream_rows, write_statuses
from gateway.workers import ThreadWorker, WorkerRegistry
from ingest.video.config import StreamConfig, VideoConfig
from ingest.video.frames import Frame
from ingest.video.metrics import VideoMetrics

log = structlog.get_logger(__name__)

STATUS_EVERY_S = 2.0
Pairer = Callable[[Frame], None]


class _PairingSink:
    """A drone stream's frames get the drone's pose at their capture time before the stage sees them."""

    def __init__(self, pair: Pairer, stage: FrameStage) -> None:
        self.pair, self.stage = pair, stage

    def put(self, frame: Frame) -> None:
        self.pair(frame)
        self.stage.put(frame)


class VideoService:
    def __init__(self, config: VideoConfig, stage: FrameStage, *, database_url: str, metrics: VideoMetrics | None,
                 proxy: ProxyClient | None = None, pusher: LivePusher | None = None,
                 pair: Pairer | None = None) -> None:
        self.config = config
        self.stage = stage
        self.database_url = database_url
        self.metrics = metrics
        self.reporter = reporter_name()
        self.runners: dict[str, StreamRunner] = {}
        for s in config.streams:
            if not s.enabled:
                continue
            sink = _PairingSink(pair, stage) if pair is not None and s.camera == "drone" else stage
            self.runners[s.id] = StreamRunner(s, config, sink, metrics=metrics, proxy=proxy, pusher=pusher)
        self._stop = threading.Event()
        self._status_worker: ThreadWorker | None = None
        self.status_errors = 0

    @property
    def streams(self) -> list[StreamConfig]:
        return self.config.streams

    def has_stream(self, stream_id: str) -> bool:
        return stream_id in self.runners

    def latest_frame(self, stream_id: str) -> Frame | None:
        return self.stage.latest(stream_id)

    def start(self, workers: WorkerRegistry) -> None:
        if not self.stage.alive():
            self.stage.start()
        workers.watch("frame-stage", self.stage.alive, restart=self.stage.start)
        for sid, runner in self.runners.items():
            runner.start()
            workers.watch(f"stream-{sid}", runner.alive, restart=runner.restart,
                          error=lambda r=runner: r.status().last_error or "stream worker ended")
        self._stop.clear()
        self._status_worker = ThreadWorker("stream-status", self._write_loop, stopping=self._stop.is_set,
                                           registry=workers, stall_after_s=60.0)
        self._status_worker.start()
        log.info("video.started", streams=len(self.runners))

    def statuses(self) -> list[dict[str, Any]]:
        """Each running stream's status as a store row would hold it."""
        rows = []
        for runner in self.runners.values():
            st = runner.status()
            rows.append({"id": st.id, "device_id": st.device_id, "url": st.url, "state": str(st.state),
                         "since": st.since, "last_error": st.last_error, "frames_read": st.frames_read,
                         "frames_kept": st.frames_kept, "reconnects": st.reconnects, "fps": st.fps,
                         "last_frame_at": st.last_frame_at,
                         "time_source": None if st.time_source is None else str(st.time_source),
                         "detail": st.detail})
        return rows

    def rows(self) -> list[dict[str, Any]]:
        """What `streams list` shows, from this process's own view (fresh to the frame)."""
        live = [{"stream_id": r["id"], **r, "reporter": self.reporter, "updated_at": None, "reporting": True}
                for r in self.statuses()]
        return stream_rows(self.config.streams, live)

    def write_status(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True, connect_timeout=5) as conn:
            write_statuses(conn, self.statuses(), self.reporter)

    def _write_loop(self) -> None:
        assert self._status_worker is not None
        while not self._stop.wait(STATUS_EVERY_S):
            self._status_worker.beat()
            try:
                self.write_status()
            except psycopg.Error as exc:  # a store outage delays the status, it never stops the streams
                self.status_errors += 1
                log.warning("video.status_write_failed", error=str(exc).strip().splitlines()[0] if str(exc) else "")

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for runner in self.runners.values():
            runner.request_stop()
        for runner in self.runners.values():
            runner.stop(timeout)
        if self._status_worker is not None:
            self._status_worker.join(timeout)
        try:
            self.write_status()  # the last word: stopped
        except psycopg.Error as exc:
            log.warning("video.status_write_failed", error=str(exc))
        self.stage.stop(timeout)
