"""Mainland Chinese number plates: what a valid one looks like, and the best reading of one over a track.

Patterns of GA 36-2018 and the new-energy amendment (2016, letters widened in 2022):

    ordinary     粤B12345   province, issuing letter, 5 of letters/digits (I and O never used)
    special      粤B1234学  4 of letters/digits, then 学 (coach) 挂 (trailer) 警 (police) 港 澳 (cross-border)
                             领 (consular) 试 超 (test, oversize)
    new energy   粤BD12345  small car: D/A/B/C/E/F/G/H/J/K, then a letter or digit, then 4 digits
                 粤B12345D  large vehicle: 5 digits, then D/A/B/C/E/F/G/H/J/K

OCR gives text with separators (粤B·12345, 粤B 12345) and confuses O/0 and I/1 at the places where only one of
them can stand; `normalise` undoes both before the pattern is tested. A reading that fits no pattern is not a
plate (a shop sign, a bus route number) and is never kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_LETTER = "A-HJ-NP-Z"  # I and O are not issued
_NEV = "A-HJ-K"  # new-energy markers D (electric), F (hybrid) and, since 2022, the other letters A-K
_SPECIAL = "学挂警港澳领试超"

PlateKind = Literal["ordinary", "special", "new_energy_small", "new_energy_large"]

_PATTERNS: tuple[tuple[PlateKind, re.Pattern[str]], ...] = (
    ("new_energy_small", re.compile(rf"^[{PROVINCES}][{_LETTER}][{_NEV}][{_LETTER}0-9][0-9]{{4}}$")),
    ("new_energy_large", re.compile(rf"^[{PROVINCES}][{_LETTER}][0-9]{{5}}[{_NEV}]$")),
    ("ordinary", re.compile(rf"^[{PROVINCES}][{_LETTER}][{_LETTER}0-9]{{5}}$")),
    ("special", re.compile(rf"^[{PROVINCES}][{_LETTER}][{_LETTER}0-9]{{4}}[{_SPECIAL}]$")),
)

_SEPARATORS = re.compile(r"[\s·•.\-_:：。、]")
_FULLWIDTH = {chr(0xFF10 + i): str(i) for i in range(10)} | {chr(0xFF21 + i): chr(0x41 + i) for i in range(26)}


def normalise(text: str) -> str:
    """Upper case, half width, no separators; after the issuing letter O and I, which are never issued, are read
    as the digits 0 and 1 that OCR took them for."""
    t = "".join(_FULLWIDTH.get(c, c) for c in _SEPARATORS.sub("", text)).upper()
    if len(t) < 3:
        return t
    tail = t[2:].replace("O", "0").replace("I", "1")
    return t[:2] + tail


def plate_kind(text: str) -> PlateKind | None:
    """The kind of plate `text` (already normalised) is, or None when it is not a valid mainland plate."""
    for kind, pattern in _PATTERNS:
        if pattern.match(text):
            return kind
    return None


@dataclass(frozen=True, slots=True)
class PlateReading:
    """One valid reading: the normalised text, its kind, the OCR confidence and the frame time it came from."""

    text: str
    kind: PlateKind
    confidence: float
    at: float


def reading(raw: str, confidence: float, at: float) -> PlateReading | None:
    """A `PlateReading` of an OCR string, or None when it is no plate."""
    text = normalise(raw)
    kind = plate_kind(text)
    if kind is None or not 0.0 <= confidence <= 1.0:
        return None
    return PlateReading(text, kind, confidence, at)


class BestPlate:
    """The plate of one track from its readings: the text with the highest summed confidence (a plate read the
    same way in several frames beats one lucky frame), reported with its best single confidence."""

    def __init__(self) -> None:
        self._score: dict[str, float] = {}
        self._best: dict[str, PlateReading] = {}

    def add(self, r: PlateReading | None) -> None:
        if r is None:
            return
        self._score[r.text] = self._score.get(r.text, 0.0) + r.confidence
        if r.text not in self._best or r.confidence > self._best[r.text].confidence:
            self._best[r.text] = r

    @property
    def readings(self) -> int:
        return len(self._best)

    def best(self) -> PlateReading | None:
        if not self._score:
            return None
        text = max(self._score, key=lambda t: (self._score[t], self._best[t].confidence, t))
        return self._best[text]
