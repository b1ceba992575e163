"""Generated frame sequences for motion gating: static, busy, lighting change and panning scenes.

Deterministic per seed. Each scene is a textured ground (smooth shading plus hard-edged shapes, so it has both
gradients and corners), with sensor noise per frame; a mover is a car-sized dark block whose true box is kept
per frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np

from ingest.video.frames import Frame, FrameTime

START = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
Box = tuple[int, int, int, int]


@dataclass
class Scene:
    """Frames and, per frame, the mover's true box in frame pixels (None without a mover in view)."""

    frames: list[Frame] = field(default_factory=list)
    movers: list[Box | None] = field(default_factory=list)


def textured_ground(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A BGR uint8 ground texture: low-frequency shading, then rectangles and discs of random grey levels."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(60, 190, size=(max(2, height // 40), max(2, width // 40), 3)).astype(np.float32)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    shapes = max(8, width * height // 3000)
    for _ in range(shapes):
        colour = tuple(float(c) for c in rng.uniform(20, 235, size=3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        if rng.random() < 0.5:
            w, h = int(rng.integers(4, 30)), int(rng.integers(4, 30))
            cv2.rectangle(image, (x, y), (x + w, y + h), colour, -1)
        else:
            cv2.circle(image, (x, y), int(rng.integers(3, 14)), colour, -1)
    return np.clip(image, 0, 255).astype(np.uint8)


def _frame(image: np.ndarray, seq: int, fps: float, stream_id: str) -> Frame:
    t = START + timedelta(seconds=seq / fps)
    return Frame(stream_id=stream_id, device_id=f"{stream_id}-dev", seq=seq, image=image, time=t,
                 time_source=FrameTime.FILE, received_at=t, pts_s=seq / fps)


def _noisy(image: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return image.copy()
    noise = rng.standard_normal(size=image.shape, dtype=np.float32) * np.float32(sigma)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _draw_mover(image: np.ndarray, box: Box) -> None:
    x1, y1, x2, y2 = box
    cv2.rectangle(image, (x1, y1), (x2 - 1, y2 - 1), (30, 30, 200), -1)
    cv2.rectangle(image, (x1 + 4, y1 + 4), (x2 - 5, (y1 + y2) // 2), (20, 20, 20), -1)  # a windscreen


def static_scene(n: int = 300, fps: float = 5.0, width: int = 640, height: int = 360, noise: float = 3.0,
                 seed: int = 1, stream_id: str = "cam-static") -> Scene:
    """Nothing moves: the same ground with fresh sensor noise per frame."""
    rng = np.random.default_rng(seed)
    ground = textured_ground(width, height, seed)
    scene = Scene()
    for i in range(n):
        scene.frames.append(_frame(_noisy(ground, rng, noise), i, fps, stream_id))
        scene.movers.append(None)
    return scene


def busy_scene(n: int = 40, fps: float = 5.0, width: int = 640, height: int = 360, car: tuple[int, int] = (60, 30),
               speed_px: int = 12, noise: float = 3.0, seed: int = 2, stream_id: str = "cam-busy") -> Scene:
    """A car-sized block crossing the static ground left to right at `speed_px` per frame."""
    rng = np.random.default_rng(seed)
    ground = textured_ground(width, height, seed)
    scene = Scene()
    y = height // 2 - car[1] // 2
    for i in range(n):
        image = ground.copy()
        x = 10 + i * speed_px
        box: Box | None = (x, y, x + car[0], y + car[1]) if x + car[0] <= width else None
        if box is not None:
            _draw_mover(image, box)
        scene.frames.append(_frame(_noisy(image, rng, noise), i, fps, stream_id))
        scene.movers.append(box)
    return scene


def lighting_scene(n: int = 40, change_at: int = 20, fps: float = 5.0, width: int = 640, height: int = 360,
                   gain: float = 0.45, noise: float = 3.0, seed: int = 3, stream_id: str = "cam-light") -> Scene:
    """A static scene whose whole frame darkens to `gain` of its brightness at frame `change_at` (lights off)."""
    rng = np.random.default_rng(seed)
    ground = textured_ground(width, height, seed)
    dark = np.clip(ground.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    scene = Scene()
    for i in range(n):
        scene.frames.append(_frame(_noisy(ground if i < change_at else dark, rng, noise), i, fps, stream_id))
        scene.movers.append(None)
    return scene


def panning_scene(n: int = 40, fps: float = 5.0, width: int = 640, height: int = 360, pan_px: tuple[int, int] = (9, 3),
                  mover: bool = False, car: tuple[int, int] = (60, 30), mover_px: int = 14, noise: float = 3.0,
                  seed: int = 4, stream_id: str = "drone-pan") -> Scene:
    """A camera panning over a static textured ground by `pan_px` (dx, dy) per frame; with `mover` a block
    also drives across the ground (its own speed on the ground plus the pan in the image)."""
    rng = np.random.default_rng(seed)
    canvas_w, canvas_h = width + abs(pan_px[0]) * n + 1, height + abs(pan_px[1]) * n + 1
    ground = textured_ground(canvas_w, canvas_h, seed)
    scene = Scene()
    for i in range(n):
        ox, oy = i * abs(pan_px[0]), i * abs(pan_px[1])
        world = ground
        box: Box | None = None
        if mover:
            world = ground.copy()
            gx, gy = ox + 40 + i * mover_px, oy + height // 2
            world_box = (gx, gy, gx + car[0], gy + car[1])
            _draw_mover(world, world_box)
            box = (world_box[0] - ox, world_box[1] - oy, world_box[2] - ox, world_box[3] - oy)
            if box[2] > width:
                box = None
        view = world[oy:oy + height, ox:ox + width]
        scene.frames.append(_frame(_noisy(view, rng, noise), i, fps, stream_id))
        scene.movers.append(box)
    return scene
