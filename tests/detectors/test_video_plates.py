"""Plate validation and the best reading over a track (detectors/video/plates.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detectors.video.plates import PROVINCES, BestPlate, normalise, plate_kind, reading


@pytest.mark.parametrize(("raw", "text", "kind"), [
    ("粤B12345", "粤B12345", "ordinary"),
    ("粤B·12345", "粤B12345", "ordinary"),
    ("粤 b 1a2b3", "粤B1A2B3", "ordinary"),
    ("京A O1234", "京A01234", "ordinary"),  # O is never issued: the OCR's O is a 0
    ("沪AD12345", "沪AD12345", "new_energy_small"),
    ("沪AFA1234", "沪AFA1234", "new_energy_small"),
    ("苏E12345D", "苏E12345D", "new_energy_large"),
    ("粤B1234学", "粤B1234学", "special"),
    ("粤Z1234港", "粤Z1234港", "special"),
    ("浙Ａ１２３４５", "浙A12345", "ordinary"),  # full width, as some OCR output comes
])
def test_valid_plates(raw: str, text: str, kind: str) -> None:
    r = reading(raw, 0.9, 0.0)
    assert r is not None and (r.text, r.kind) == (text, kind)


@pytest.mark.parametrize("raw", [
    "",
    "粤",
    "B12345",  # no province
    "港B12345",  # 港 is no province prefix
    "粤I12345",  # I is not issued as the authority letter
    "粤812345",  # a digit where the authority letter stands
    "粤B1234",  # too short
    "粤B1234567",  # too long
    "粤BD1234X",  # new energy needs 4 digits at the end
    "粤B12345X",  # X is no new-energy marker (only A-K)
    "12路 公交",  # a bus route board
    "粤B1234挂挂",
])
def test_not_plates(raw: str) -> None:
    assert reading(raw, 0.9, 0.0) is None


def test_confidence_out_of_range_is_refused() -> None:
    assert reading("粤B12345", 1.5, 0.0) is None


_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


@given(st.sampled_from(PROVINCES), st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXYZ"),
       st.text(alphabet=_ALNUM, min_size=5, max_size=5))
def test_every_ordinary_plate_is_valid_and_normalising_is_idempotent(p: str, letter: str, tail: str) -> None:
    text = p + letter + tail
    assert plate_kind(text) in ("ordinary", "new_energy_small")  # a D/F... + letter + 4 digits is both
    assert normalise(text) == text and normalise(normalise(" " + text.lower())) == text


@given(st.text(max_size=12))
def test_any_text_is_judged_without_error(raw: str) -> None:
    r = reading(raw, 0.5, 0.0)
    assert r is None or plate_kind(r.text) == r.kind


def test_best_plate_prefers_agreement_over_one_lucky_frame() -> None:
    best = BestPlate()
    assert best.best() is None
    best.add(reading("粤B12345", 0.70, 1.0))
    best.add(reading("粤B12846", 0.95, 2.0))  # one frame misread, confidently
    best.add(reading("粤B12345", 0.72, 3.0))
    best.add(reading("not a plate", 0.99, 4.0))
    b = best.best()
    assert b is not None and b.text == "粤B12345" and b.confidence == 0.72 and b.at == 3.0
    assert best.readings == 2
