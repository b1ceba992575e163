"""StreamWorker against local servers: reconnect with back-off after drops and refusals, stalls, sampling without
backlog, file sources, hostile input, prompt stop; the back-off itself; the status record and the metrics."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from gateway.video.frame_stage import FrameStage
from ingest.video.backoff import Backoff, backoff_delay
from ingest.video.config import ReconnectConfig, StreamConfig, VideoConfig
from ingest.video.frames import Frame, FrameTime
from ingest.video.metrics import VideoMetrics
from ingest.video.state import StreamState, StreamStatus
from ingest.video.stream_worker import StreamWorker
from testkit.stream_servers import MjpegServer, RtmpServer, StaticHttpServer, free_port
from testkit.video_media import frame_number, jpeg_frames, make_h264

FAST = ReconnectConfig(initial_s=0.2, max_s=0.8, multiplier=2.0, jitter=0.5, failed_after=3)


class Sink:
    """Records each frame and its capture-to-sink lag; returns at once, as FrameSink requires."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.lags: list[float] = []

    def put(self, frame: Frame) -> None:
        self.lags.append((datetime.now(UTC) - frame.time).total_seconds())
        self.frames.append(frame)


class Recorder:
    def __init__(self) -> None:
        self.statuses: list[StreamStatus] = []

    def __call__(self, s: StreamStatus) -> None:
        self.statuses.append(s)

    def states(self) -> list[StreamState]:
        out: list[StreamState] = []
        for s in self.statuses:
            if not out or out[-1] is not s.state:
                out.append(s.state)
        return out


def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def make_worker(source_url: str, sink: object, *, fps: float = 5.0, stall_after_s: float = 2.0,
                reconnect: ReconnectConfig = FAST, **kw: object) -> tuple[StreamWorker, Recorder, VideoMetrics]:
    cfg = StreamConfig(id="cam-1", url=source_url, device_id="dev-1", fps=fps, stall_after_s=stall_after_s,
                       open_timeout_s=3.0)
    video = VideoConfig(streams=[cfg], reconnect=reconnect)
    rec, metrics = Recorder(), VideoMetrics(CollectorRegistry())
    w = StreamWorker(cfg, video, sink, metrics=metrics, rng=random.Random(7), on_status=rec, **kw)  # type: ignore[arg-type]
    return w, rec, metrics


@pytest.fixture
def stopped() -> Iterator[list[StreamWorker]]:
    workers: list[StreamWorker] = []
    yield workers
    for w in workers:
        w.stop(2.0)


def metric(metrics: VideoMetrics, name: str, **labels: str) -> float:
    for fam in (metrics.state, metrics.frames, metrics.reconnects, metrics.lag):
        for m in fam.collect():
            for s in m.samples:
                if s.name == name and s.labels == labels:
                    return float(s.value)
    return 0.0


# -- back-off --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("attempt", "jitter", "u", "expected"), [
    (0, 0.0, 0.9, 1.0), (1, 0.0, 0.9, 2.0), (3, 0.0, 0.0, 8.0), (10, 0.0, 0.0, 30.0),  # capped at max_s
    (2, 1.0, 0.25, 1.0),  # full jitter: uniform in [0, 4)
    (2, 0.5, 0.0, 2.0), (2, 0.5, 0.5, 3.0),  # partial: 2 fixed + up to 2 random
    (10_000, 0.0, 0.0, 30.0),  # days of retries do not overflow
])
def test_backoff_delay(attempt: int, jitter: float, u: float, expected: float) -> None:
    assert backoff_delay(attempt, initial_s=1.0, max_s=30.0, multiplier=2.0, jitter=jitter, u=u) == expected


@given(initial=st.floats(0.01, 10), max_s=st.floats(0.01, 300), mult=st.floats(1.0, 4.0), jitter=st.floats(0, 1),
       seed=st.integers(0, 2**32))
def test_backoff_stays_within_its_bounds_and_reset_restarts_it(initial: float, max_s: float, mult: float,
                                                             jitter: float, seed: int) -> None:
    b = Backoff(initial, max_s, mult, jitter, random.Random(seed))
    ceiling = max(max_s, initial)
    delays = [b.next_delay() for _ in range(20)]
    for i, d in enumerate(delays):
        base = min(ceiling, initial * mult**i)
        assert base * (1 - jitter) - 1e-9 <= d <= base + 1e-9
    b.reset()
    assert b.next_delay() <= initial + 1e-9


# -- against local servers --------------------------------------------------------------------------------------

@pytest.mark.slow
def test_reconnects_with_backoff_after_a_drop_and_a_refusal(stopped: list[StreamWorker]) -> None:
    """The server drops each connection after 15 parts (0.6 s) and then refuses connections for 1 s."""
    sink = Sink()
    with MjpegServer(jpeg_frames(200), fps=25, drop_after=15, refuse_for_s=1.0) as server:
        w, rec, metrics = make_worker(server.url, sink)
        stopped.append(w)
        w.start()
        assert wait_for(lambda: len(server.accepted) >= 3 and w.status().state is StreamState.LIVE, 15)
        assert w.stop(2.0)
        status = w.status()  # after the stop: no frame is between the sink and the counters any more
    states = rec.states()
    assert states[:3] == [StreamState.CONNECTING, StreamState.LIVE, StreamState.CONNECTING]
    assert states.count(StreamState.LIVE) >= 3
    assert states[-1] is StreamState.STOPPED
    errors = {s.last_error for s in rec.statuses if s.last_error}
    assert any("ended" in e for e in errors) and any("Connection refused" in e for e in errors)
    # each retry waited a back-off delay within its jitter bounds, and a failed retry grew the next one
    delays = [s.detail["retry_in_s"] for s in rec.statuses if "retry_in_s" in s.detail]
    assert all(FAST.initial_s * (1 - FAST.jitter) - 1e-3 <= d <= FAST.max_s + 1e-3 for d in delays)
    assert max(delays) > FAST.initial_s  # the refusals pushed the delay past the first step
    gaps = [b - a for a, b in zip(server.accepted, server.accepted[1:], strict=False)]
    assert all(g >= 0.6 + 1.0 - 0.05 for g in gaps)  # the drop, then the refusal window, then a reconnect
    # frames resumed: numbers after the reconnects are later than before, never repeated
    numbers = [frame_number(f.image) for f in sink.frames]
    assert numbers == sorted(set(numbers))
    assert {n // 15 for n in numbers} >= {0, 1, 2}  # frames from each of the first three connections
    assert [f.seq for f in sink.frames] == list(range(1, len(sink.frames) + 1))
    assert status.reconnects >= 2 and metric(metrics, "enforcegw_stream_reconnects_total", stream="cam-1") >= 2
    assert status.frames_kept == len(sink.frames)
    assert metric(metrics, "enforcegw_stream_frames_total", stream="cam-1", outcome="kept") == len(sink.frames)


def test_a_silent_stream_is_stalled_then_reconnected(stopped: list[StreamWorker]) -> None:
    sink = Sink()
    with MjpegServer(jpeg_frames(20), fps=50, stall_after=5) as server:
        w, rec, _ = make_worker(server.url, sink, stall_after_s=0.5)
        stopped.append(w)
        w.start()
        assert wait_for(lambda: len(server.accepted) >= 2 and StreamState.STALLED in rec.states(), 10)
        assert w.stop(2.0)
    stalled = [s for s in rec.statuses if s.state is StreamState.STALLED]
    assert "no data for 0.5 s" in (stalled[0].last_error or "")
    assert rec.states()[:3] == [StreamState.CONNECTING, StreamState.LIVE, StreamState.STALLED]


@pytest.mark.slow
def test_rtmp_sampled_to_5fps_with_bounded_lag_behind_a_slow_consumer(tmp_path: Path,
                                                                     stopped: list[StreamWorker]) -> None:
    """25 fps RTMP sampled to 5 fps into the real frame stage whose handler takes 0.5 s per frame: the worker
    never waits, the full queue drops oldest first, and the capture-to-sink lag does not grow over the run."""
    clip = make_h264(tmp_path / "clip.mp4", fps=25, seconds=4.0)
    sink = Sink()
    handled: list[float] = []

    def slow(frame: Frame) -> None:
        handled.append((datetime.now(UTC) - frame.time).total_seconds())
        time.sleep(0.5)

    lags: list[float] = []
    with RtmpServer(clip) as server:
        metrics_holder: list[VideoMetrics] = []
        stage = FrameStage(2, [sink.put, slow], on_dropped=lambda sid: metrics_holder[0].dropped_queue(sid))
        w, _, metrics = make_worker(server.url, _Tee(stage, lags))
        metrics_holder.append(metrics)
        stage.start()
        stopped.append(w)
        w.start()
        assert wait_for(lambda: w.status().frames_kept >= 20, 20)
        status = w.status()
        w.stop(2.0)
        stage.stop(2.0)
    assert status.time_source is FrameTime.STREAM
    third = len(lags) // 3
    early, late = lags[:third], lags[-third:]
    assert max(lags) < 1.0
    assert sum(late) / len(late) <= sum(early) / len(early) + 0.2
    assert metric(metrics, "enforcegw_stream_frames_total", stream="cam-1", outcome="dropped_queue") > 0
    assert status.frames_read >= 4 * status.frames_kept  # 25 decoded for every 5 kept
    assert 3.5 <= (status.fps or 0) <= 6.5


class _Tee:
    """Measures lag at the moment the worker hands a frame on, then passes it to the real stage."""

    def __init__(self, stage: FrameStage, lags: list[float]) -> None:
        self.stage, self.lags = stage, lags

    def put(self, frame: Frame) -> None:
        self.lags.append((datetime.now(UTC) - frame.time).total_seconds())
        self.stage.put(frame)


@pytest.mark.slow
def test_a_frozen_rtmp_server_stalls_the_stream_and_it_comes_back(tmp_path: Path,
                                                                  stopped: list[StreamWorker]) -> None:
    clip = make_h264(tmp_path / "clip.mp4", fps=25, seconds=4.0)
    sink = Sink()
    with RtmpServer(clip) as server:
        w, rec, _ = make_worker(server.url, sink, stall_after_s=1.0)
        stopped.append(w)
        w.start()
        assert wait_for(lambda: w.status().frames_kept >= 3, 15)
        server.pause()
        assert wait_for(lambda: w.status().state is StreamState.STALLED, 10)
        kept_at_stall = w.status().frames_kept
        server.resume()  # the frozen ffmpeg finds its client gone and exits; the next one serves the reconnect
        assert wait_for(lambda: w.status().frames_kept >= kept_at_stall + 3
                        and w.status().state is StreamState.LIVE, 15)
        states = rec.states()
    assert states[:3] == [StreamState.CONNECTING, StreamState.LIVE, StreamState.STALLED]
    assert states[-1] is StreamState.LIVE
    assert "no data for 1 s" in next(s.last_error or "" for s in rec.statuses if s.state is StreamState.STALLED)


def test_a_file_is_timed_from_the_given_start_and_ends_stopped(tmp_path: Path,
                                                               stopped: list[StreamWorker]) -> None:
    clip = make_h264(tmp_path / "f.mp4", fps=25, seconds=2.0)
    start = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    sink = Sink()
    w, rec, _ = make_worker(str(clip), sink, file_start=start, pace_files=False)
    stopped.append(w)
    w.start()
    assert wait_for(lambda: not w.alive(), 10)
    assert [frame_number(f.image) for f in sink.frames] == list(range(0, 50, 5))
    assert [f.time for f in sink.frames] == [start + timedelta(seconds=n / 25) for n in range(0, 50, 5)]
    assert {f.time_source for f in sink.frames} == {FrameTime.FILE}
    assert {(f.stream_id, f.device_id) for f in sink.frames} == {("cam-1", "dev-1")}
    final = w.status()
    assert final.state is StreamState.STOPPED and final.detail.get("ended") is True
    assert rec.states() == [StreamState.CONNECTING, StreamState.LIVE, StreamState.STOPPED]


@pytest.mark.parametrize(("kind", "words"), [
    ("refused", "Connection refused"),
    ("html", "Invalid data found"),
    ("garbage", "Invalid data found"),
])
def test_hostile_input_fails_with_a_clear_error_and_the_worker_lives(tmp_path: Path, kind: str, words: str,
                                                                    stopped: list[StreamWorker]) -> None:
    garbage = tmp_path / "g.mp4"
    garbage.write_bytes(bytes(range(256)) * 100)
    with StaticHttpServer(tmp_path, routes={"/page": ("text/html", b"<html>login</html>")}) as http:
        url = {"refused": f"rtmp://127.0.0.1:{free_port()}/live/s", "html": http.url("page"),
               "garbage": str(garbage)}[kind]
        w, rec, metrics = make_worker(url, Sink(), reconnect=ReconnectConfig(initial_s=0.05, max_s=0.1,
                                                                           jitter=0.0, failed_after=3))
        stopped.append(w)
        w.start()
        assert wait_for(lambda: w.status().state is StreamState.FAILED, 10)
        status = w.status()
        assert w.alive()
        assert metric(metrics, "enforcegw_stream_state", stream="cam-1", state="failed") == 1.0
        assert w.stop(2.0)
    assert words in (status.last_error or "")
    assert status.detail["failures"] >= 3
    assert rec.states()[:2] == [StreamState.CONNECTING, StreamState.FAILED]


def test_a_sink_that_raises_costs_frames_not_the_stream(stopped: list[StreamWorker]) -> None:
    class Broken:
        calls = 0

        def put(self, frame: Frame) -> None:
            self.calls += 1
            raise RuntimeError("detector bug")

    sink = Broken()
    with MjpegServer(jpeg_frames(10), fps=50) as server:
        w, _, _ = make_worker(server.url, sink, fps=25)
        stopped.append(w)
        w.start()
        assert wait_for(lambda: sink.calls >= 5, 10)
        assert w.status().state is StreamState.LIVE and w.alive()


@pytest.mark.parametrize("server_kind", ["live", "silent"])
def test_stop_is_prompt(server_kind: str, stopped: list[StreamWorker]) -> None:
    """stop() returns with the thread ended, whether the reader is receiving or blocked on a silent socket."""
    stall_after = 3 if server_kind == "silent" else None
    with MjpegServer(jpeg_frames(10), fps=25, stall_after=stall_after) as server:
        w, _, _ = make_worker(server.url, Sink(), stall_after_s=30.0)
        stopped.append(w)
        w.start()
        assert wait_for(lambda: w.status().frames_kept >= 1, 10)
        time.sleep(0.3)  # the silent server has sent its 3 parts: the reader is blocked in recv
        ok = w.stop(timeout=2.0)
        assert ok and not w.alive()
        assert w.status().state is StreamState.STOPPED


def test_status_is_json_with_the_password_masked(stopped: list[StreamWorker]) -> None:
    w, _, _ = make_worker("rtsp://admin:s3cret@10.0.0.5:554/ch1", Sink(), url="rtsp://127.0.0.1:1/proxy/ch1")
    d = w.status().as_dict()
    text = json.dumps(d)
    assert "s3cret" not in text
    assert d["url"] == "rtsp://admin:***@10.0.0.5:554/ch1"
    assert d["detail"]["read_url"] == "rtsp://127.0.0.1:1/proxy/ch1"
    assert (d["id"], d["device_id"], d["state"], d["frames_read"], d["reconnects"]) == ("cam-1", "dev-1",
                                                                                         "stopped", 0, 0)
    datetime.fromisoformat(d["since"])
