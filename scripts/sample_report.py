"""What the detector finds in each real photo of ../shared/samples/images, beside OpenCV's classical detectors
(HOG people detector, Haar face cascades) and their union with the model's people: the model card's table.

    .venv/bin/python scripts/sample_report.py [--weights FILE] [--samples DIR] [--conf 0.25]

Prints one markdown row per image: the model's count per kind, HOG's people, the union (model people plus the
HOG boxes no model person overlaps), and faces.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detectors.video.detector import SHIPPED_WEIGHTS, Detector, DetectorConfig  # noqa: E402
from detectors.video.redaction import FaceFinder  # noqa: E402
from detectors.video.tracks import Box, box_iou  # noqa: E402


def hog_people(image) -> list[Box]:  # type: ignore[no-untyped-def]
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    rects, weights = hog.detectMultiScale(image, winStride=(8, 8), padding=(8, 8), scale=1.05)
    return [Box(float(x), float(y), float(x + w), float(y + h))
            for (x, y, w, h), s in zip(rects, weights, strict=True) if float(s) > 0.5]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default=str(SHIPPED_WEIGHTS))
    ap.add_argument("--samples", type=Path, default=REPO.parent / "shared" / "samples" / "images")
    ap.add_argument("--conf", type=float, default=0.25)
    args = ap.parse_args()
    det = Detector(DetectorConfig(weights=args.weights, confidence=args.conf))
    faces = FaceFinder()
    print("| image | model finds | HOG people | model + HOG people | faces (Haar) |")
    print("|---|---|---|---|---|")
    for path in sorted(args.samples.glob("*.jpg")):
        image = cv2.imread(str(path))
        found = det.detect(image)
        kinds = Counter(d.kind for d in found)
        people = [d.box for d in found if d.kind == "person"]
        hog = hog_people(image)
        union = len(people) + sum(1 for h in hog if not any(box_iou(h, p) > 0.3 for p in people))
        text = ", ".join(f"{n} {k}" for k, n in kinds.most_common()) or "nothing"
        print(f"| {path.name} | {text} | {len(hog)} | {union} | {len(faces.find(image))} |")


if __name__ == "__main__":
    main()
