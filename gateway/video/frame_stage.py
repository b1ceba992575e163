"""The entry of the detection stage: every source (live streams, recorded flights, photo sets) hands its frames
here and returns at once.

Each stream has its own bounded queue. A full queue drops its oldest frame (counted): for a live view the
newest frame is worth more than an old one, and a slow detector must never push back into a reader, which would
let FFmpeg's buffers grow into the backlog the sampler exists to avoid. Recorded sources (`analyze`, photo
sets) are not live: they ask for `blocking=True`, so every frame is handled and none is dropped.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog

from ingest.video.frames import Frame

log = structlog.get_logger(__name__)

FrameHandler = Callable[[Frame], None]


@dataclass
class StageCounts:
    queued: int = 0
    handled: int = 0
    dropped: int = 0
    handler_errors: int = 0


class FrameStage:
    def __init__(self, queue_max: int, handlers: Sequence[FrameHandler] = (), *,
                 on_dropped: Callable[[str], None] | None = None, blocking: bool = False) -> None:
        if queue_max < 1:
            raise ValueError("queue_max must be at least 1")
        self.queue_max = queue_max
        self.handlers = list(handlers)
        self.on_dropped = on_dropped
        self.blocking = blocking
        self._queues: dict[str, deque[Frame]] = {}
        self._latest: dict[str, Frame] = {}
        self._counts: dict[str, StageCounts] = {}
        self._cond = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._busy = False  # the consumer holds a frame it took
        self._next = 0  # round robin over streams, so one busy stream does not starve the others

    def put(self, frame: Frame, *, wait: bool | None = None) -> None:
        """Queue a frame; with `wait` (default: the stage's `blocking`) wait for room instead of dropping."""
        wait = self.blocking if wait is None else wait
        with self._cond:
            q = self._queues.setdefault(frame.stream_id, deque())
            counts = self._counts.setdefault(frame.stream_id, StageCounts())
            while wait and len(q) >= self.queue_max and not self._stop:
                self._cond.wait(0.5)
            if len(q) >= self.queue_max:
                q.popleft()
                counts.dropped += 1
                if self.on_dropped:
                    self.on_dropped(frame.stream_id)
            q.append(frame)
            counts.queued += 1
            self._latest[frame.stream_id] = frame
            self._cond.notify_all()

    def latest(self, stream_id: str) -> Frame | None:
        with self._cond:
            return self._latest.get(stream_id)

    def counts(self) -> dict[str, StageCounts]:
        with self._cond:
            return {k: StageCounts(**vars(v)) for k, v in self._counts.items()}

    def pending(self) -> int:
        with self._cond:
            return sum(len(q) for q in self._queues.values())

    def start(self) -> None:
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="frame-stage", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every queued frame was handled (recorded sources end with this); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self.pending() == 0 and not self._busy, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread:
            self._thread.join(timeout)

    def _take(self) -> Frame | None:
        streams = [s for s, q in self._queues.items() if q]
        if not streams:
            return None
        self._next = (self._next + 1) % len(streams)
        return self._queues[streams[self._next]].popleft()

    def _run(self) -> None:
        while True:
            with self._cond:
                frame = self._take()
                while frame is None:
                    self._busy = False
                    self._cond.notify_all()
                    if self._stop:
                        return
                    self._cond.wait(0.5)
                    frame = self._take()
                self._busy = True
                self._cond.notify_all()  # a blocking put waits for room
            self._handle(frame)
            with self._cond:
                self._counts[frame.stream_id].handled += 1

    def _handle(self, frame: Frame) -> None:
        for handler in self.handlers:
            try:
                handler(frame)
            except Exception as exc:  # a handler's bug on one frame never stops the stage
                with self._cond:
                    self._counts[frame.stream_id].handler_errors += 1
                log.exception("video.frame_handler_failed", stream=frame.stream_id, seq=frame.seq,
                              handler=getattr(handler, "__qualname__", repr(handler)), error=str(exc))


class WaitingSink:
    """A recorded source's way into a live stage (a photo upload): every frame is kept, waiting for room."""

    def __init__(self, stage: FrameStage) -> None:
        self.stage = stage

    def put(self, frame: Frame) -> None:
        self.stage.put(frame, wait=True)
