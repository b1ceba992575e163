"""Illegal construction by change detection between two passes (detectors/video/change.py): a new structure in a
watched zone is found after the later pass is aligned and exposure-normalised; the camera's own shift, a darker
pass, a change outside the zone, a small change and an ignored vehicle are not reported."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from detectors.video.change import ChangeConfig, compare_passes
from detectors.video.synthetic.textures import fractal_noise
from detectors.video.tracks import Box

W, H = 640, 480
ZONE = {"site-1": [(300, 200), (620, 200), (620, 460), (300, 460)]}


def ground(seed: int = 1) -> np.ndarray:
    """A textured ground (features to align on) with a few fixed buildings."""
    rng = np.random.default_rng(seed)
    noise = fractal_noise(rng, H + 80, W + 80, 24.0)
    img = np.dstack([(noise * 120 + 60).astype(np.uint8)] * 3)
    for _ in range(25):
        x, y = int(rng.integers(0, W)), int(rng.integers(0, H))
        cv2.rectangle(img, (x, y), (x + int(rng.integers(10, 40)), y + int(rng.integers(10, 40))),
                      tuple(int(v) for v in rng.integers(0, 255, 3)), -1)
    return img


def view(world: np.ndarray, dx: float = 0.0, dy: float = 0.0, angle: float = 0.0, gain: float = 1.0) -> np.ndarray:
    """What the camera sees of `world` from a slightly different position and heading, with an exposure gain."""
    m = cv2.getRotationMatrix2D((W / 2 + 40, H / 2 + 40), angle, 1.0)
    m[:, 2] += (40 + dx - 40, 40 + dy - 40)
    out = cv2.warpAffine(world, m, (world.shape[1], world.shape[0]))[40:40 + H, 40:40 + W]
    return np.clip(out.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def build(world: np.ndarray, x: int, y: int, w: int, h: int) -> np.ndarray:
    out = world.copy()
    cv2.rectangle(out, (x + 40, y + 40), (x + 40 + w, y + 40 + h), (230, 230, 225), -1)  # a new roof
    cv2.rectangle(out, (x + 40, y + 40), (x + 40 + w, y + 40 + h), (40, 40, 40), 3)
    return out


@pytest.mark.parametrize(("case", "later_world", "shift", "ignore", "expect"), [
    ("a new structure in the zone", "built_in", (6, -4, 2.0, 1.0), [], 1),
    ("the same place, camera shifted and darker", "same", (8, 5, -3.0, 0.7), [], 0),
    ("a structure outside the zone", "built_out", (5, 3, 1.0, 1.0), [], 0),
    ("a small change under the area threshold", "small", (4, 2, 0.0, 1.0), [], 0),
    ("a change the caller knows is a vehicle", "built_in", (6, -4, 2.0, 1.0), [Box(380, 260, 520, 380)], 0),
])
def test_change_between_passes(case: str, later_world: str, shift: tuple, ignore: list, expect: int) -> None:
    world = ground()
    worlds = {"same": world, "built_in": build(world, 400, 280, 100, 80), "built_out": build(world, 60, 60, 100, 80),
              "small": build(world, 420, 300, 12, 12)}
    earlier = view(world)
    later = view(worlds[later_world], *shift)
    result = compare_passes(earlier, later, ZONE, ignore=ignore)
    assert result.aligned, result.reason
    assert len(result.regions) == expect, (case, result.regions)
    if expect:
        r = result.regions[0]
        assert r.zone_id == "site-1" and r.area_px >= ChangeConfig().min_area_px
        # found where it was built, in the earlier pass's pixels (the structure is 400-500 x 280-360)
        assert 380 <= r.box.x1 <= 420 and 480 <= r.box.x2 <= 520 and 260 <= r.box.y1 <= 300


def test_passes_that_cannot_be_aligned_compare_nothing() -> None:
    flat = np.full((H, W, 3), 128, np.uint8)
    result = compare_passes(flat, flat.copy(), ZONE)
    assert not result.aligned and result.reason is not None and result.regions == []
