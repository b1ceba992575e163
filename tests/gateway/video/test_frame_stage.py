"""The frame stage: a live source's put never waits, a full queue drops its oldest frame and counts it, recorded
sources lose nothing, one handler's failure never stops the stage, and streams take turns."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import numpy as np
import pytest

from gateway.video.frame_stage import FrameStage, WaitingSink
from ingest.video.frames import Frame, FrameTime

T0 = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)


def frame(stream: str, seq: int) -> Frame:
    return Frame(stream_id=stream, device_id="cam", seq=seq, image=np.zeros((4, 4, 3), np.uint8), time=T0,
                 time_source=FrameTime.ARRIVAL, received_at=T0)


@pytest.mark.parametrize(("queue_max", "frames", "kept"), [(1, 5, [4]), (3, 5, [2, 3, 4]), (8, 5, [0, 1, 2, 3, 4])])
def test_a_full_queue_drops_its_oldest_frames_without_blocking(queue_max: int, frames: int, kept: list[int]) -> None:
    dropped: list[str] = []
    stage = FrameStage(queue_max, on_dropped=dropped.append)  # not started: nothing is consumed
    for i in range(frames):
        stage.put(frame("a", i))
    seen: list[int] = []
    stage.handlers.append(lambda f: seen.append(f.seq))
    stage.start()
    assert stage.drain(5)
    stage.stop()
    assert seen == kept
    assert dropped == ["a"] * (frames - len(kept))
    c = stage.counts()["a"]
    assert (c.queued, c.dropped, c.handled) == (frames, frames - len(kept), len(kept))
    assert stage.latest("a").seq == frames - 1


def test_blocking_stage_keeps_every_frame_of_a_recorded_source() -> None:
    release = threading.Event()
    seen: list[int] = []

    def slow(f: Frame) -> None:
        release.wait(5)
        seen.append(f.seq)

    stage = FrameStage(2, [slow], blocking=True)
    stage.start()
    producer = threading.Thread(target=lambda: [stage.put(frame("file", i)) for i in range(20)])
    producer.start()
    producer.join(0.3)
    assert producer.is_alive()  # waits for room instead of dropping
    release.set()
    producer.join(5)
    assert stage.drain(5)
    stage.stop()
    assert seen == list(range(20))
    assert stage.counts()["file"].dropped == 0


def test_a_failing_handler_is_counted_and_the_next_frames_still_flow() -> None:
    seen: list[int] = []

    def picky(f: Frame) -> None:
        if f.seq == 1:
            raise RuntimeError("bad frame")
        seen.append(f.seq)

    stage = FrameStage(8, [picky])
    stage.start()
    for i in range(4):
        stage.put(frame("a", i))
    assert stage.drain(5)
    assert stage.alive()
    stage.stop()
    assert seen == [0, 2, 3]
    assert stage.counts()["a"].handler_errors == 1


def test_streams_take_turns() -> None:
    order: list[str] = []
    stage = FrameStage(16, [lambda f: order.append(f.stream_id)])
    for i in range(6):
        stage.put(frame("busy", i))
    stage.put(frame("quiet", 0))
    stage.start()
    assert stage.drain(5)
    stage.stop()
    assert order.index("quiet") <= 2  # not behind all six of the busy stream


def test_queue_max_must_be_positive() -> None:
    with pytest.raises(ValueError, match="queue_max"):
        FrameStage(0)


def test_a_waiting_sink_keeps_every_frame_of_an_upload_on_a_live_stage() -> None:
    release = threading.Event()
    seen: list[int] = []
    stage = FrameStage(2, [lambda f: (release.wait(5), seen.append(f.seq))])
    stage.start()
    uploader = threading.Thread(target=lambda: [WaitingSink(stage).put(frame("photos:drone-1", i)) for i in range(6)])
    uploader.start()
    uploader.join(0.3)
    assert uploader.is_alive()  # waits for room, the live stage's drop-oldest is not applied to it
    release.set()
    uploader.join(5)
    assert stage.drain(5)
    stage.stop()
    assert seen == list(range(6)) and stage.counts()["photos:drone-1"].dropped == 0
