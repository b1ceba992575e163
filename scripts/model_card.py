"""Write the shipped detector's model card from its training metrics and what it finds in the real sample photos.

    .venv/bin/python scripts/model_card.py [--weights FILE] [--samples DIR] [--out FILE]

The held-out figures come from `<weights>.metrics.json` (scripts/train_detector.py writes it). For each photo of
../shared/samples/images the card lists what the model finds at the default confidence, beside OpenCV's
classical detectors: the HOG people detector, its union with the model's people, and the Haar face cascades.
What a person counts in each photo is stated in PEOPLE_COUNT below (counted by eye from the photos).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detectors.video.detector import SHIPPED_WEIGHTS, Detector, DetectorConfig  # noqa: E402
from detectors.video.redaction import FaceFinder  # noqa: E402
from detectors.video.tracks import Box, box_iou  # noqa: E402

PERSON_COUNTS = {  # by eye, from the photos (../shared/samples/README.md says what each shows)
    "aerial_visdrone_crossing_night_nadir.jpg": "about 35 people, 3 bicycles or motorbikes, part of a car",
    "aerial_visdrone_street_dusk_oblique.jpg": "about 65 people, 3 cars, a motorbike, a cargo tricycle",
    "people_zidane_ultralytics.jpg": "2 people (2 faces)",
    "street_bus_ultralytics.jpg": "4 people (2 faces fully visible), 1 bus",
}


def hog_people(image) -> list[Box]:  # type: ignore[no-untyped-def]
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    rects, weights = hog.detectMultiScale(image, winStride=(8, 8), padding=(8, 8), scale=1.05)
    return [Box(float(x), float(y), float(x + w), float(y + h))
            for (x, y, w, h), s in zip(rects, weights, strict=True) if float(s) > 0.5]


def sample_rows(weights: str, samples: Path) -> list[str]:
    det = Detector(DetectorConfig(weights=weights))
    faces = FaceFinder()
    rows = ["| photo | a person counts | the model finds | HOG people | model + HOG people | Haar faces |",
            "|---|---|---|---|---|---|"]
    for path in sorted(samples.glob("*.jpg")):
        image = cv2.imread(str(path))
        found = det.detect(image)
        kinds = Counter(d.kind for d in found)
        people = [d.box for d in found if d.kind == "person"]
        hog = hog_people(image)
        union = len(people) + sum(1 for h in hog if not any(box_iou(h, p) > 0.3 for p in people))
        text = ", ".join(f"{n} {k}" for k, n in kinds.most_common()) or "nothing"
        rows.append(f"| {path.name} | {PERSON_COUNTS.get(path.name, '?')} | {text} | {len(hog)} | {union} | "
                    f"{len(faces.find(image))} |")
    return rows


def per_class_rows(metrics: dict) -> list[str]:
    rows = ["| class | precision | recall | mAP50 | mAP50-95 | labelled in training set |", "|---|---|---|---|---|---|"]
    made = (metrics.get("dataset") or {}).get("objects_per_class", {})
    for name, m in metrics["per_class"].items():
        rows.append(f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['map50']:.3f} | {m['map50_95']:.3f} "
                    f"| {made.get(name, '?')} |")
    o = metrics["overall"]
    rows.append(f"| **all** | {o['precision']:.3f} | {o['recall']:.3f} | {o['map50']:.3f} | {o['map50_95']:.3f} | |")
    return rows


def _history(metrics: dict) -> list[str]:
    """Earlier runs these weights were trained on from (scripts/train_detector.py --model <our .pt>)."""
    out, prev, total = [], metrics.get("previous"), metrics["epochs"]
    while prev:
        total += prev["epochs"]
        out.append(f"- continued from weights of {prev['epochs']} epochs at {prev['imgsz']} px "
                   f"(optimizer {prev.get('optimizer', 'auto')}; held-out mAP50 {prev['overall']['map50']:.3f}), "
                   f"sha256 `{prev['weights_sha256'][:16]}...`")
        prev = prev.get("previous")
    if out:
        out.append(f"- {total} epochs in all")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", type=Path, default=SHIPPED_WEIGHTS)
    ap.add_argument("--samples", type=Path, default=REPO.parent / "shared" / "samples" / "images")
    ap.add_argument("--out", type=Path, default=SHIPPED_WEIGHTS.parent / "MODEL_CARD.md")
    ap.add_argument("--notes", type=Path, help="a markdown file appended as the card's closing section")
    args = ap.parse_args()
    metrics = json.loads(args.weights.with_suffix(".metrics.json").read_text())
    ds = metrics.get("dataset") or {}
    lines = [
        f"# {args.weights.name}",
        "",
        "YOLO11n (ultralytics, from its yaml: no pretrained weights) trained on this project's synthetic scenes only",
        "(detectors/video/synthetic), by `scripts/train_detector.py`; this card is written by `scripts/model_card.py`.",
        "",
        "## How it was made",
        f"- data: {ds.get('n', '?')} generated {ds.get('imgsz', '?')} px frames, seed {ds.get('seed', '?')}, "
        f"{ds.get('views', {})} (generator version {ds.get('generator_version', '?')}); "
        f"held out: {ds.get('images', {}).get('val', '?')} frames",
        f"- training: {metrics['epochs']} epochs at {metrics['imgsz']} px, batch {metrics['batch']}, seed "
        f"{metrics['seed']}, optimizer {metrics.get('optimizer', 'auto')}, CPU only, "
        f"{metrics['train_seconds'] / 60:.0f} minutes on 2 cores",
        *_history(metrics),
        f"- weights: {metrics['weights_bytes'] / 1e6:.1f} MB, sha256 `{metrics['weights_sha256']}`",
        "",
        "## Held-out generated frames (ultralytics val, IoU 0.5 for mAP50)",
        *per_class_rows(metrics),
        "",
        "## Real photos it has never seen (../shared/samples/images), default confidence",
        *(sample_rows(str(args.weights), args.samples) if args.samples.is_dir() else ["(samples not present)"]),
        "",
        "## What it will not see",
        "- It has never seen a real photograph: every pixel it learnt from was drawn by the generator. Real",
        "  textures, lenses, night lighting, crowds and motion blur are outside what it knows; expect it to miss",
        "  most objects in real video until it is trained (or fine-tuned) on real frames.",
        "- Its kinds are ours (car, truck, boat, person, stall, cart, smoke, fire, garbage, rubble); motorbikes,",
        "  bicycles and buses are not classes.",
        "- For real deployments pass real weights (`detection.detector.weights`, e.g. a COCO `yolo11n.pt` with",
        "  its classes mapped, or a model trained on the bureau's own footage): the loading code is the same.",
    ]
    if args.notes is not None:
        lines += ["", args.notes.read_text().strip()]
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
