"""What a scene builder hands back, and the placement helpers both views share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detectors.video.synthetic.canvas import Canvas


@dataclass(frozen=True)
class Sun:
    """One light for the whole scene, so every shadow falls the same way: azimuth in image coordinates (0 = to
    the right, pi/2 = downwards), elevation above the horizon."""

    azimuth: float
    elevation: float
    strength: float  # fraction of light a shadow takes away (0 for an overcast sky)

    @staticmethod
    def random(rng: np.random.Generator) -> Sun:
        overcast = rng.random() < 0.2
        return Sun(float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(np.radians(20), np.radians(70))),
                   float(rng.uniform(0.05, 0.2) if overcast else rng.uniform(0.35, 0.65)))

    def offset(self, height_px: float) -> tuple[float, float]:
        """Ground shift of the top of something `height_px` tall, seen from straight above."""
        d = height_px / np.tan(self.elevation)
        return float(np.cos(self.azimuth) * d), float(np.sin(self.azimuth) * d)


@dataclass
class BuiltScene:
    canvas: Canvas
    view: str  # "aerial" or "street"
    depth_rows: tuple[float, float] | None = None  # street: horizon row and image height, for haze


def sample_in(rng: np.random.Generator, mask: np.ndarray, k: int) -> np.ndarray:
    """Up to `k` (x, y) points drawn uniformly from the True pixels of `mask` (fewer if it has fewer)."""
    idx = np.flatnonzero(mask)
    if len(idx) == 0 or k <= 0:
        return np.zeros((0, 2), np.float64)
    pick = rng.choice(idx, size=min(k, len(idx)), replace=len(idx) < k)
    ys, xs = np.divmod(pick, mask.shape[1])
    return np.stack([xs + rng.random(len(xs)), ys + rng.random(len(ys))], axis=1)
