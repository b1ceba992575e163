"""Agreement between two detectors' results on one image (detectors/video/agreement.py)."""

from __future__ import annotations

import pytest

from detectors.video.agreement import agreement
from detectors.video.detector import Detection, kind_map
from detectors.video.tracks import Box


def det(kind: str, score: float, x: float = 0.0) -> Detection:
    return Detection(kind, kind, score, Box(x, 0.0, x + 100.0, 50.0))


@pytest.mark.parametrize(("case", "first", "second", "expect", "within"), [
    ("identical", [det("car", 0.9)], [det("car", 0.9)], (1, 0, 0), True),
    ("score drift within tolerance", [det("car", 0.90)], [det("car", 0.91)], (1, 0, 0), True),
    ("score drift beyond", [det("car", 0.90)], [det("car", 0.95)], (1, 0, 0), False),
    ("box shifted a little", [det("car", 0.9)], [det("car", 0.9, 2.0)], (1, 0, 0), True),
    ("box shifted a lot", [det("car", 0.9)], [det("car", 0.9, 30.0)], (1, 0, 0), False),
    ("kind differs", [det("car", 0.9)], [det("truck", 0.9)], (0, 1, 1), False),
    ("one missing", [det("car", 0.9), det("boat", 0.8, 300.0)], [det("car", 0.9)], (1, 1, 0), False),
    ("missing only at the threshold", [det("car", 0.9), det("boat", 0.36, 300.0)], [det("car", 0.9)],
     (1, 0, 0), True),
    ("both empty", [], [], (0, 0, 0), True),
])
def test_agreement(case: str, first: list, second: list, expect: tuple, within: bool) -> None:
    a = agreement(first, second, threshold=0.35)
    assert (a.matched, a.only_first, a.only_second) == expect, case
    assert a.within() is within, case


@pytest.mark.parametrize(("names", "classes", "expected"), [
    ({0: "car", 1: "stall", 2: "smoke"}, None, {0: "car", 1: "stall", 2: "smoke"}),  # our own model
    ({0: "person", 2: "car", 5: "bus", 8: "boat", 16: "dog"}, None,
     {0: "person", 2: "car", 5: "truck", 8: "boat"}),  # a COCO model: the dog is not ours
    ({0: "vehicle", 1: "pedestrian"}, {"vehicle": "car", "pedestrian": "person"}, {0: "car", 1: "person"}),
    ({0: "car", 1: "person"}, {"car": "car"}, {0: "car"}),  # a map keeps only what it names
])
def test_kind_map(names: dict, classes: dict | None, expected: dict) -> None:
    assert kind_map(names, classes) == expected
