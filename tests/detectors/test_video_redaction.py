"""The redacted rendition (detectors/video/redaction.py): what is hidden, what is kept, and that it cannot be
undone; faces found with OpenCV's bundled cascades on the two sample photos with people."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detectors.video.redaction import FaceFinder, Region, pixelate, plate_band, regions_to_hide
from detectors.video.tracks import Box

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples" / "images"

SUBJECT = Box(100, 100, 200, 300)
PASSER_BY = Box(400, 100, 480, 300)


@pytest.mark.parametrize(("case", "kwargs", "expected"), [
    ("a passer-by is hidden whole, the subject is kept",
     {"people": [SUBJECT, PASSER_BY]}, [("person", PASSER_BY)]),
    ("a face inside the subject's box is kept, one outside hidden",
     {"faces": [Box(130, 110, 170, 150), Box(420, 110, 460, 150)]}, [("face", Box(420, 110, 460, 150))]),
    ("an uninvolved car's plate is hidden where it was read",
     {"vehicles": [Box(500, 300, 700, 420)], "plates": [Box(570, 390, 630, 410)]},
     [("plate", Box(570, 390, 630, 410))]),
    ("without a reading, the band where a plate sits",
     {"vehicles": [Box(500, 300, 700, 420)]}, [("plate", plate_band(Box(500, 300, 700, 420)))]),
    ("the subject's own plate stays", {"vehicles": [Box(90, 150, 210, 300)], "plates": [Box(130, 280, 170, 295)]},
     []),
    ("a plate with no vehicle found around it is hidden too", {"plates": [Box(600, 50, 650, 65)]},
     [("plate", Box(600, 50, 650, 65))]),
])
def test_regions_to_hide(case: str, kwargs: dict, expected: list[tuple[str, Box]]) -> None:
    got = regions_to_hide(keep=[SUBJECT], **kwargs)
    assert [(r.kind, r.box) for r in got] == expected, case


def _textured(h: int = 240, w: int = 320, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_pixelation_destroys_the_region_and_nothing_else() -> None:
    img = _textured()
    region = Region("face", Box(40, 40, 120, 120))
    out = pixelate(img, [region])
    assert out is not img and np.array_equal(img, _textured())  # the original is not touched
    outside = np.ones(img.shape[:2], bool)
    outside[40:120, 40:120] = False
    assert np.array_equal(out[outside], img[outside])
    # what was noise is now smooth: the region's detail (gradient energy) is gone
    def detail(a: np.ndarray) -> float:
        return float(np.abs(np.diff(a.astype(np.int16), axis=1)).mean())

    assert detail(out[40:120, 40:120]) < 0.1 * detail(img[40:120, 40:120])


@given(st.floats(-50, 400), st.floats(-50, 300), st.floats(0, 200), st.floats(0, 200))
def test_pixelate_takes_any_box_even_off_the_image(x: float, y: float, w: float, h: float) -> None:
    img = _textured(60, 80)
    out = pixelate(img, [Region("person", Box(x, y, x + w, y + h))])
    assert out.shape == img.shape and out.dtype == img.dtype


def _sample(name: str) -> np.ndarray:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"{path} is not here (../shared/samples)")
    img = cv2.imread(str(path))
    assert img is not None
    return img


# Faces a person counts in each sample, as boxes drawn by hand around each visible face (pixels of the file).
FACES = {
    "people_zidane_ultralytics.jpg": {"Ancelotti": Box(920, 90, 1120, 280), "Zidane": Box(540, 230, 665, 385)},
    "street_bus_ultralytics.jpg": {"man, left": Box(95, 405, 170, 480), "man, centre": Box(245, 410, 325, 490)},
}


@pytest.mark.parametrize(("name", "found_by_cascade"), [
    ("people_zidane_ultralytics.jpg", {"Ancelotti"}),  # Zidane, shouting in three-quarter view, is not found
    ("street_bus_ultralytics.jpg", {"man, left", "man, centre"}),
])
def test_bundled_cascades_on_the_sample_photos(name: str, found_by_cascade: set[str]) -> None:
    img = _sample(name)
    faces = FaceFinder().find(img)
    found = {who for who, box in FACES[name].items()
             if any(_overlap(f, box) >= 0.5 for f in faces)}
    assert found == found_by_cascade
    redacted = pixelate(img, regions_to_hide(keep=[], faces=faces))
    for who in found:
        b = FACES[name][who]
        face = (slice(int(b.y1), int(b.y2)), slice(int(b.x1), int(b.x2)))
        assert not np.array_equal(redacted[face], img[face]), who


def _overlap(a: Box, b: Box) -> float:
    """Share of `a` inside `b`."""
    iw = min(a.x2, b.x2) - max(a.x1, b.x1)
    ih = min(a.y2, b.y2) - max(a.y1, b.y1)
    return max(0.0, iw) * max(0.0, ih) / a.area if a.area else 0.0
