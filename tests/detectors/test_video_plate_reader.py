"""Plate reading with the PP-OCRv4 models inside the rapidocr-onnxruntime wheel, on plates drawn as a camera
sees them (testkit/plate_images.py): the text validated, the plate's box placed in the frame's pixels."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.video.plate_reader import PlateReader
from detectors.video.plates import BestPlate
from detectors.video.tracks import Box
from testkit.plate_images import car_rear, font_available

pytest.importorskip("rapidocr_onnxruntime", reason="plate reading needs the vision extra")
if not font_available():
    pytest.skip("fonts-noto-cjk is not installed (make tools installs it)", allow_module_level=True)

READER = PlateReader()


@pytest.mark.parametrize(("text", "colour", "width", "kind"), [
    ("粤B12345", "blue", 320, "ordinary"),
    ("粤BD12345", "green", 320, "new_energy_small"),
    ("苏E12345D", "yellow", 400, "new_energy_large"),
    ("沪A8K2P9", "blue", 160, "ordinary"),  # a small car far off: the crop is upscaled for the OCR
])
def test_reads_the_plate_on_a_vehicle_in_a_frame(text: str, colour: str, width: int, kind: str) -> None:
    car = car_rear(text, width_px=width, colour=colour)
    frame = np.full((720, 1280, 3), 90, np.uint8)
    y, x = 300, 500
    frame[y:y + car.shape[0], x:x + car.shape[1]] = car
    vehicle = Box(x + 40, y + 30, x + 40 + width, y + 30 + int(width * 0.8))
    found = READER.read(frame, vehicle, at=12.5)
    assert found is not None
    plate, box = found
    assert (plate.text, plate.kind, plate.at) == (text, kind, 12.5) and plate.confidence > 0.8
    # the plate's box lies in the lower middle of the vehicle, in frame pixels
    assert vehicle.x1 < box.x1 < box.x2 < vehicle.x2 and vehicle.y1 + 0.5 * vehicle.height < box.y2 <= vehicle.y2 + 5


def test_a_vehicle_without_a_plate_gives_nothing() -> None:
    frame = np.full((400, 600, 3), 120, np.uint8)
    assert READER.read(frame, Box(100, 100, 400, 300)) is None
    assert READER.read(frame, Box(10, 10, 14, 14)) is None  # too small to read


def test_best_plate_over_frames_of_one_track() -> None:
    best = BestPlate()
    for i, width in enumerate((120, 200, 320)):  # the car comes closer
        found = READER.read(car_rear("粤B6Z8K1", width_px=width, seed=i), None, at=float(i))
        best.add(found[0] if found else None)
    b = best.best()
    assert b is not None and b.text == "粤B6Z8K1"
