"""How closely two detectors agree on one image: the torch weights and their ONNX export must find the same
objects, with boxes and scores within a stated tolerance (`enforcegw model export` reports it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from detectors.video.detector import Detection
from detectors.video.tracks import box_iou

# What "the same results" means for an export: each detection of one has a detection of the same kind in the
# other with IoU >= 0.9 and a score within 0.02. Detections within 0.02 of the confidence threshold may be on
# one side only (rounding decides them).
MIN_IOU = 0.9
MAX_SCORE_DIFF = 0.02


@dataclass(frozen=True, slots=True)
class Agreement:
    matched: int
    only_first: int
    only_second: int
    min_iou: float  # over matched pairs; 1.0 when none
    max_score_diff: float  # over matched pairs; 0.0 when none

    def within(self, *, min_iou: float = MIN_IOU, max_score_diff: float = MAX_SCORE_DIFF) -> bool:
        return self.only_first == self.only_second == 0 and self.min_iou >= min_iou \
            and self.max_score_diff <= max_score_diff


def agreement(first: Sequence[Detection], second: Sequence[Detection], *, threshold: float = 0.0,
              margin: float = MAX_SCORE_DIFF) -> Agreement:
    """Greedy best-IoU matching of same-kind detections; unmatched ones scored within `margin` of `threshold`
    are not counted as disagreement."""
    pairs = sorted(((box_iou(a.box, b.box), i, j) for i, a in enumerate(first) for j, b in enumerate(second)
                    if a.kind == b.kind), reverse=True)
    used_a: set[int] = set()
    used_b: set[int] = set()
    ious: list[float] = []
    diffs: list[float] = []
    for iou, i, j in pairs:
        if iou <= 0 or i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        ious.append(iou)
        diffs.append(abs(first[i].score - second[j].score))

    def counted(dets: Sequence[Detection], used: set[int]) -> int:
        return sum(1 for k, d in enumerate(dets) if k not in used and d.score > threshold + margin)

    return Agreement(len(ious), counted(first, used_a), counted(second, used_b),
                     min(ious, default=1.0), max(diffs, default=0.0))
