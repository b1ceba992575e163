"""Evidence clips: the seconds of video around a video alert, cut from a per-stream ring buffer of recent frames.

`ClipBuffer` holds one stream's recent frames JPEG-encoded (a 720p frame is ~2.7 MB raw, ~100 KB as JPEG), so
a few hundred frames of look-back cost tens of MB rather than GB. A clip is asked for with `request(key, at)`;
it is handed back by the `add()` whose frame closes its after-window, or by `flush()` when the stream ends.
`encode_mp4` turns a clip into an MP4 whose frames keep their capture times (streams here run 2-10 fps and
are rarely steady, so a fixed frame rate would misstate when things happened).

Feed `add()` from the same place that calls `request()`: frames older than `before_s` behind the newest one
are gone, so a request made long after its `at` gets only what is left.
"""

from __future__ import annotations

import io
import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

import av
import cv2
import numpy as np

TIME_BASE = Fraction(1, 1000)
ENCODER_PREFERENCE = ("libx264", "h264", "mpeg4")


@dataclass(frozen=True)
class Clip:
    key: str
    at: datetime
    frames: list[tuple[datetime, bytes]]  # (capture time, JPEG bytes), in time order


def _aware(time: object, what: str) -> datetime:
    if not isinstance(time, datetime):
        raise ValueError(f"{what} must be a datetime, got {type(time).__name__}")
    if time.tzinfo is None or time.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {time.isoformat()}")
    return time


def _seconds(value: float, what: str) -> timedelta:
    if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite number of seconds >= 0, got {value!r}")
    return timedelta(seconds=value)


class ClipBuffer:
    """One stream's recent frames, kept JPEG-encoded (a 720p frame is ~2.7 MB raw, ~100 KB as JPEG).

    Not thread-safe: one stream's frames and requests come from one worker.
    """

    def __init__(self, before_s: float, after_s: float, *, max_frames: int = 600, jpeg_quality: int = 85) -> None:
        self._before = _seconds(before_s, "before_s")
        self._after = _seconds(after_s, "after_s")
        if not isinstance(max_frames, int) or max_frames < 1:
            raise ValueError(f"max_frames must be an int >= 1, got {max_frames!r}")
        if not isinstance(jpeg_quality, int) or not 0 <= jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be an int in 0..100, got {jpeg_quality!r}")
        self.before_s = float(before_s)
        self.after_s = float(after_s)
        self.max_frames = max_frames
        self.jpeg_quality = jpeg_quality
        self._frames: deque[tuple[datetime, bytes]] = deque()
        self._pending: dict[str, datetime] = {}  # insertion order: clips come back in the order they were asked for
        self._newest: datetime | None = None
        self.dropped_out_of_order = 0
        self.dropped_over_capacity = 0  # frames lost to max_frames while before_s or a pending clip still wanted them

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def pending(self) -> set[str]:
        return set(self._pending)

    def add(self, time: datetime, image: np.ndarray) -> list[Clip]:
        """Store one frame; return the clips whose after-window has passed (a frame at or past `at + after_s`).

        A frame older than the newest one is dropped and counted in `dropped_out_of_order`: the buffer and every
        clip stay in time order, which the MP4's presentation times depend on.
        """
        _aware(time, "frame time")
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
            raise ValueError(f"image must be a BGR uint8 array of shape (height, width, 3), got {got}")
        if image.shape[0] == 0 or image.shape[1] == 0:
            raise ValueError(f"image is empty: shape {image.shape}")
        if self._newest is not None and time < self._newest:
            self.dropped_out_of_order += 1
            return []
        ok, jpeg = cv2.imencode(".jpg", np.ascontiguousarray(image), [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise ValueError(f"OpenCV could not JPEG-encode an image of shape {image.shape}")
        self._frames.append((time, jpeg.tobytes()))
        self._newest = time
        if len(self._frames) > self.max_frames:  # before cutting: no clip may carry more than the bound either
            self._frames.popleft()
            self.dropped_over_capacity += 1
        done = [self._cut(key, at) for key, at in self._pending.items() if time >= at + self._after]
        for clip in done:
            del self._pending[clip.key]
        self._trim()
        return done

    def request(self, key: str, at: datetime) -> None:
        """Ask for a clip of the frames with time in [at - before_s, at + after_s]; frames already held count.

        A second request with a key still pending is ignored (the first `at` stands). A request whose window
        has already passed comes back from the next `add()` or `flush()`.
        """
        _aware(at, "clip time")
        if key not in self._pending:
            self._pending[key] = at

    def flush(self) -> list[Clip]:
        """The stream ended: every pending clip with the frames it has (maybe none), and the buffer emptied."""
        done = [self._cut(key, at) for key, at in self._pending.items()]
        self._pending.clear()
        self._frames.clear()
        self._newest = None
        return done

    def _cut(self, key: str, at: datetime) -> Clip:
        start, end = at - self._before, at + self._after
        return Clip(key, at, [(t, jpeg) for t, jpeg in self._frames if start <= t <= end])

    def _trim(self) -> None:
        if self._newest is None:
            return
        keep_from = min([self._newest - self._before, *(at - self._before for at in self._pending.values())])
        while self._frames and self._frames[0][0] < keep_from:
            self._frames.popleft()


def _pick_encoder() -> str:
    """The first of ENCODER_PREFERENCE the installed FFmpeg can open: a name can be listed yet unusable."""
    for name in ENCODER_PREFERENCE:
        try:
            ctx = av.CodecContext.create(name, "w")
            ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = 16, 16, "yuv420p", TIME_BASE
            ctx.open()
            return ctx.codec.name
        except Exception:  # any failure just means "try the next one"
            continue
    raise RuntimeError(f"none of the encoders {ENCODER_PREFERENCE} is usable in this FFmpeg build")


# The encoder this process writes clips with, by FFmpeg's name ("libx264" when "h264" resolves to it).
MP4_ENCODER: str = _pick_encoder()


def encode_mp4(clip: Clip) -> bytes:
    """The clip as an MP4 (MP4_ENCODER, yuv420p) with each frame at its capture time, in ms from the first.

    The size is the first frame's, rounded down to even (yuv420p halves chroma); a frame of another size is
    resized to it. Times that collapse into one millisecond are nudged 1 ms apart, as MP4 needs rising times.
    """
    if not clip.frames:
        raise ValueError(f"clip {clip.key!r} has no frames to encode")
    out = io.BytesIO()
    # No movflags=+faststart: its second pass reopens the output by file name, which a BytesIO does not have.
    # video_track_timescale keeps the file at 1/1000 s too; the muxer would otherwise scale it up (to 1/16000).
    with av.open(out, mode="w", format="mp4", container_options={"video_track_timescale": "1000"}) as container:
        stream = container.add_stream(MP4_ENCODER)
        stream.time_base = TIME_BASE
        stream.codec_context.time_base = TIME_BASE
        stream.pix_fmt = "yuv420p"
        if MP4_ENCODER == "mpeg4":
            stream.bit_rate = 2_000_000  # its 200 kb/s default smears evidence into blocks
        t0 = clip.frames[0][0]
        width = height = 0
        last_pts = -1
        for i, (time, jpeg) in enumerate(clip.frames):
            image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            if image is None:
                raise ValueError(f"clip {clip.key!r}: frame {i} is not a decodable JPEG")
            if i == 0:
                height, width = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
                if width == 0 or height == 0:
                    raise ValueError(f"clip {clip.key!r}: frames of {image.shape[1]}x{image.shape[0]} are too small")
                stream.width, stream.height = width, height
            if image.shape[:2] != (height, width):
                if image.shape[0] - height in (0, 1) and image.shape[1] - width in (0, 1):
                    image = image[:height, :width]  # the odd last row/column
                else:
                    image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
            pts = max(round((time - t0) / timedelta(milliseconds=1)), last_pts + 1)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24").reformat(format="yuv420p")
            frame.pts, frame.time_base = pts, TIME_BASE
            container.mux(stream.encode(frame))
            last_pts = pts
        container.mux(stream.encode(None))
    return out.getvalue()
