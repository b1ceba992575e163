"""Test video: H.264 files and JPEG frames with the frame number drawn in, so a test can tell which frames arrived.

Each frame has a moving pattern (a bar sweeping across, so consecutive frames differ and the encoder does real
work) and its number twice: as text for a person looking at it, and as a row of black/white cells along the top
(bit i of the number in cell i, most significant first) that `frame_number` reads back after lossy coding.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

BITS = 16  # cells in the number strip: numbers up to 65,535
STRIP_H = 16  # strip height in pixels


def texture(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A blurred random texture twice as wide as the frame, for backgrounds that pan like a real scene."""
    rng = np.random.default_rng(seed)
    tex = rng.integers(0, 256, (height, width * 2), np.uint8)
    tex = cv2.GaussianBlur(tex, (0, 0), 2.0)
    return cv2.cvtColor(tex, cv2.COLOR_GRAY2BGR)


def draw_frame(n: int, width: int, height: int, background: np.ndarray | None = None,
               noise: np.random.Generator | None = None) -> np.ndarray:
    """Frame `n` (BGR uint8): a dark background (or `background` panning 2 px a frame, with fresh sensor-like
    noise from `noise`), a grey bar sweeping left to right, the number as text and strip."""
    if background is None:
        img = np.full((height, width, 3), 32, np.uint8)
    else:
        x0 = (2 * n) % width
        img = background[:, x0:x0 + width].copy()
        if noise is not None:
            img = cv2.add(img, noise.integers(0, 12, img.shape, np.uint8))
    x = (n * 8) % max(width, 1)
    cv2.rectangle(img, (x, STRIP_H), (min(x + width // 10, width - 1), height - 1), (160, 160, 160), -1)
    cv2.circle(img, (width // 2, height // 2), height // 6, (40, 40 + (n * 5) % 200, 220), -1)
    cell = width // BITS
    for i in range(BITS):
        bit = (n >> (BITS - 1 - i)) & 1
        img[:STRIP_H, i * cell:(i + 1) * cell] = 255 if bit else 0
    scale = max(height / 360.0, 0.4)
    cv2.putText(img, f"#{n}", (8, STRIP_H + int(40 * scale)), cv2.FONT_HERSHEY_SIMPLEX, 1.2 * scale,
                (255, 255, 255), max(int(2 * scale), 1), cv2.LINE_AA)
    return img


def frame_number(image: np.ndarray) -> int:
    """The number `draw_frame` drew into `image` (read from the strip's cell centres)."""
    width = image.shape[1]
    cell = width // BITS
    n = 0
    for i in range(BITS):
        patch = image[STRIP_H // 4: 3 * STRIP_H // 4, i * cell + cell // 4: (i + 1) * cell - cell // 4]
        n = (n << 1) | int(patch.mean() > 127)
    return n


def make_h264(path: Path, *, width: int = 320, height: int = 240, fps: int = 25, seconds: float = 4.0,
              gop: int | None = None, creation_time: datetime | None = None, container: str = "mp4",
              textured: bool = False, bit_rate: int | None = None) -> Path:
    """Write an H.264 file of `seconds` at `fps` (libx264, ultrafast, no B-frames); `gop` frames between key
    frames (default one per second); `creation_time` goes into the container's metadata as cameras write it.
    `textured`: a panning noisy background, so the encoder spends a camera-like bit rate (`bit_rate` bit/s, e.g.
    2,000,000 for 720p) instead of coding flat colour almost for free."""
    background = texture(width, height) if textured else None
    noise = np.random.default_rng(1) if textured else None
    images = (draw_frame(n, width, height, background, noise) for n in range(round(seconds * fps)))
    return _encode(Path(path), images, width=width, height=height, fps=fps, gop=gop or fps, container=container,
                   creation_time=creation_time, bit_rate=bit_rate)


def _encode(path: Path, images: Iterable[np.ndarray], *, width: int, height: int, fps: int, gop: int,
            container: str, creation_time: datetime | None = None, bit_rate: int | None = None) -> Path:
    """libx264, ultrafast, no B-frames, a key frame every `gop` frames, one pts per frame."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format=container) as out:
        if creation_time is not None:
            out.metadata["creation_time"] = creation_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.options = {"preset": "ultrafast", "g": str(gop), "bf": "0"}
        if bit_rate:
            stream.bit_rate = bit_rate
        for n, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = n
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def jpeg_frames(count: int, *, width: int = 320, height: int = 240, quality: int = 80) -> list[bytes]:
    """`count` JPEG-encoded frames numbered 0..count-1, for the MJPEG test server."""
    out = []
    for n in range(count):
        ok, buf = cv2.imencode(".jpg", draw_frame(n, width, height), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        out.append(buf.tobytes())
    return out


def write_h264(path: Path, images: list[np.ndarray], *, fps: int = 25, noise: float = 2.0, seed: int = 0) -> Path:
    """An H.264 file of the given BGR frames (even sizes), each with a little sensor noise so the encoder sees a
    camera rather than a still."""
    rng = np.random.default_rng(seed)
    h, w = images[0].shape[:2]

    def noisy() -> Iterator[np.ndarray]:
        for img in images:
            jitter = rng.normal(0, noise, img.shape) if noise else 0
            yield np.clip(img + jitter, 0, 255).astype(np.uint8)

    return _encode(Path(path), noisy(), width=w, height=h, fps=fps, gop=fps, container="mp4")
