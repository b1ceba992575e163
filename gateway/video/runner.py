"""One configured stream from start to stop: what must happen before its frames can be read (ZLMediaKit takes the
upstream pull, a DJI dock is told to push), the worker that reads it, and the teardown in reverse.

The preparation is retried with the stream's own back-off, in the runner's thread, so a media server or dock that
is down delays that stream alone and shows as its `connecting` state with the reason, never as a gateway that
fails to start."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from ingest.video.backoff import Backoff
from ingest.video.config import StreamConfig, VideoConfig
from ingest.video.frames import FrameSink
from ingest.video.metrics import VideoMetrics
from ingest.video.state import StreamState, StreamStatus
from ingest.video.stream_worker import StreamWorker
from ingest.video.urls import mask_url

log = structlog.get_logger(__name__)


class ProxyClient(Protocol):
    """ZLMediaKit as the runner uses it (ingest.video.zlmediakit.ZlmClient)."""

    def add_stream_proxy(self, stream_id: str, source_url: str) -> Any: ...

    def del_stream_proxy(self, key: str) -> Any: ...


class LivePusher(Protocol):
    """DJI Cloud API live video as the runner uses it (ingest.dji.live.DjiLiveController)."""

    def start_push(self, cfg: Any) -> Any: ...

    def stop_push(self, cfg: Any) -> Any: ...


class StreamRunner:
    def __init__(self, config: StreamConfig, video: VideoConfig, sink: FrameSink, *, metrics: VideoMetrics | None,
                 proxy: ProxyClient | None = None, pusher: LivePusher | None = None) -> None:
        self.config = config
        self.video = video
        self.sink = sink
        self.metrics = metrics
        self.proxy = proxy if config.via_zlmediakit else None
        self.pusher = pusher if config.live is not None else None
        self.worker: StreamWorker | None = None
        self.detail: dict[str, Any] = {}
        self._proxy_key: str | None = None
        self._read_url: str | None = None
        self._pushing = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._status = StreamStatus(id=config.id, url=mask_url(config.url), device_id=config.device_id,
                                    state=StreamState.CONNECTING, since=datetime.now(UTC))
        self._lock = threading.Lock()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"stream-setup-{self.config.id}", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        """The worker once it runs; the preparing thread before that."""
        if self.worker is not None:
            return self.worker.alive()
        return self._thread is not None and self._thread.is_alive()

    def restart(self) -> None:
        """The supervisor's restart: a worker thread that died is started again with the same URL."""
        if self.worker is not None and not self.worker.alive() and not self._stop.is_set():
            self.worker.start()
        elif self.worker is None and not (self._thread and self._thread.is_alive()):
            self.start()

    def status(self) -> StreamStatus:
        if self.worker is not None:
            status = self.worker.status()
            status.detail = {**status.detail, **self.detail}
            return status
        with self._lock:
            return StreamStatus(**{**vars(self._status), "detail": {**self._status.detail, **self.detail}})

    def _set(self, state: StreamState, error: str | None) -> None:
        with self._lock:
            if state != self._status.state:
                self._status.since = datetime.now(UTC)
            self._status.state, self._status.last_error = state, error

    def _run(self) -> None:
        backoff = Backoff.from_config(self.video.reconnect)
        attempt = 0
        while not self._stop.is_set():
            try:
                url = self._prepare()
            except Exception as exc:  # a media server or dock that is down: retry, the stream shows why
                attempt += 1
                failed = attempt >= self.video.reconnect.failed_after
                self._set(StreamState.FAILED if failed else StreamState.CONNECTING, str(exc))
                log.warning("video.stream_setup_failed", stream=self.config.id, attempt=attempt, error=str(exc))
                if self._stop.wait(backoff.next_delay()):
                    return
                continue
            self.detail["read_url"] = mask_url(url)
            self.worker = StreamWorker(self.config, self.video, self.sink, metrics=self.metrics, url=url)
            self.worker.start()
            return

    def _prepare(self) -> str:
        url = self.config.url
        if self.proxy is not None and self._proxy_key is None:
            proxy = self.proxy.add_stream_proxy(self.config.id, url)
            self._proxy_key = proxy.key
            self.detail["zlmediakit_key"] = proxy.key
            self._read_url = proxy.play_url_rtsp
        if self._read_url is not None:  # ZLMediaKit's re-stream, the one pull serving us and the bureau's players
            url = self._read_url
        if self.pusher is not None and not self._pushing:
            result = self.pusher.start_push(self.config.live)
            self._pushing = True
            self.detail["dji_live"] = getattr(result, "as_dict", lambda: str(result))()
        return url

    def request_stop(self) -> None:
        """Ask the worker to stop without waiting (a read blocked on a silent source ends at its read timeout), so
        many streams stop in one read timeout rather than one after another."""
        self._stop.set()
        if self.worker is not None:
            self.worker.request_stop()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self.worker is not None:
            self.worker.stop(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        if self.pusher is not None and self._pushing:
            try:
                self.pusher.stop_push(self.config.live)
            except Exception as exc:  # the dock may be gone: its push ends with the link anyway
                log.warning("video.live_stop_failed", stream=self.config.id, error=str(exc))
            self._pushing = False
        if self.proxy is not None and self._proxy_key is not None:
            try:
                self.proxy.del_stream_proxy(self._proxy_key)
            except Exception as exc:  # ZLMediaKit drops an unread proxy itself (on_stream_none_reader)
                log.warning("video.proxy_delete_failed", stream=self.config.id, key=self._proxy_key, error=str(exc))
            self._proxy_key = self._read_url = None
