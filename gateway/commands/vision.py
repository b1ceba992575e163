"""Try the detector on your own photos:

    enforcegw detect IMAGE... [--weights FILE] [--imgsz N] [--conf X] [--json]
    enforcegw redact IMAGE -o OUT [--keep X1,Y1,X2,Y2 ...] [--weights FILE] [--json]
    enforcegw model export [--weights FILE] [-o OUT.onnx] [--imgsz N] [--check IMAGE ...]

`detect` prints what the model sees (kind, score, box); `--json` one object per image with a `detections`
list. `redact` writes the rendition a party or case system gets: faces and people outside the kept boxes and
the plates of vehicles outside them pixelated. `model export` writes the ONNX file onnxruntime runs and checks
that it finds what the torch weights find (detectors/video/agreement.py), on the images named or on generated
frames. An image that cannot be read is reported and the others go on (exit 1).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from detectors.video.agreement import MAX_SCORE_DIFF, MIN_IOU, agreement
from detectors.video.detector import SHIPPED_WEIGHTS, Detection, Detector, DetectorConfig, export_onnx
from detectors.video.redaction import FaceFinder, pixelate, regions_to_hide
from detectors.video.tracks import Box
from gateway.errors import InputError

VEHICLES = ("car", "truck")
CHECK_SEED = 7_001  # generated check frames: a seed the training set (seed 0) never drew


def _config(args: argparse.Namespace) -> DetectorConfig:
    values: dict[str, Any] = {"weights": str(args.weights)}
    if args.imgsz:
        values["imgsz"] = args.imgsz
    if getattr(args, "conf", None):
        values["confidence"] = args.conf
    return DetectorConfig(**values)


def _read(path: Path) -> np.ndarray | None:
    data = np.fromfile(str(path), dtype=np.uint8) if path.is_file() else np.zeros(0, np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None


def _detect(args: argparse.Namespace) -> int:
    detector = Detector(_config(args))
    failed = 0
    for path in args.images:
        image = _read(path)
        if image is None:
            failed += 1
            error = "not a readable image" if path.is_file() else "no such file"
            print(json.dumps({"image": str(path), "error": error}) if args.json else f"{path}: {error}",
                  file=sys.stdout if args.json else sys.stderr)
            continue
        found = detector.detect(image)
        h, w = image.shape[:2]
        if args.json:
            print(json.dumps({"image": str(path), "width": w, "height": h,
                              "detections": [d.as_json() for d in found]}, ensure_ascii=False))
            continue
        print(f"{path} ({w}x{h}): {len(found)} object{'s' if len(found) != 1 else ''}")
        for d in found:
            x1, y1, x2, y2 = d.box
            print(f"  {d.kind:<8} {d.score:.2f}  [{x1:.0f}, {y1:.0f}, {x2:.0f}, {y2:.0f}]")
    return 1 if failed else 0


def _box(text: str) -> Box:
    try:
        x1, y1, x2, y2 = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not X1,Y1,X2,Y2") from None
    if x2 <= x1 or y2 <= y1:
        raise argparse.ArgumentTypeError(f"{text!r} has no area (needs X2 > X1 and Y2 > Y1)")
    return Box(x1, y1, x2, y2)


def _plates(image: np.ndarray, vehicles: list[Box]) -> list[Box]:
    """Plate boxes on the vehicles where the plate reader finds one (none without rapidocr)."""
    try:
        from detectors.video.plate_reader import PlateReader
        reader = PlateReader()
        return [found[1] for v in vehicles if (found := reader.read(image, v)) is not None]
    except RuntimeError:
        return []


def _redact(args: argparse.Namespace) -> int:
    image = _read(args.image)
    if image is None:
        raise InputError(f"{args.image}: not a readable image")
    found: list[Detection] = Detector(_config(args)).detect(image)
    people = [d.box for d in found if d.kind == "person"]
    vehicles = [d.box for d in found if d.kind in VEHICLES]
    regions = regions_to_hide(keep=args.keep, faces=FaceFinder().find(image), people=people, vehicles=vehicles,
                              plates=_plates(image, vehicles))
    out = pixelate(image, regions)
    ok, encoded = cv2.imencode(args.output.suffix or ".jpg", out)
    if not ok:
        raise InputError(f"-o {args.output}: cannot write that image type")
    args.output.write_bytes(encoded.tobytes())
    counts = {k: sum(1 for r in regions if r.kind == k) for k in ("face", "person", "plate")}
    if args.json:
        print(json.dumps({"image": str(args.image), "output": str(args.output), "hidden": counts,
                          "regions": [{"kind": r.kind, "box": [round(v, 1) for v in r.box]} for r in regions]}))
    else:
        print(f"{args.output}: hid {counts['face']} faces, {counts['person']} people, {counts['plate']} plates")
    return 0


def _check_images(paths: list[Path], count: int) -> list[tuple[str, np.ndarray]]:
    if paths:
        images = [(str(p), _read(p)) for p in paths]
        bad = [name for name, img in images if img is None]
        if bad:
            raise InputError(f"--check: not readable images: {', '.join(bad)}")
        return [(n, i) for n, i in images if i is not None]
    from detectors.video.synthetic.dataset import render_frame
    return [(f"generated #{i}", render_frame(CHECK_SEED, i, 640, 0.5).image) for i in range(count)]


def _export(args: argparse.Namespace) -> int:
    out = args.output or Path(args.weights).with_suffix(".onnx")
    export_onnx(args.weights, out, imgsz=args.imgsz or 416)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    config = _config(args)
    torch_det = Detector(config)
    onnx_det = Detector(config.model_copy(update={"weights": str(out)}))
    worst, disagreeing = None, []
    images = _check_images(args.check, args.generated)
    for name, image in tqdm(images, desc="torch vs onnxruntime", unit="image", file=sys.stderr):
        a = agreement(torch_det.detect(image), onnx_det.detect(image), threshold=config.confidence)
        if not a.within():
            disagreeing.append(name)
        if worst is None or (a.min_iou, -a.max_score_diff) < (worst.min_iou, -worst.max_score_diff):
            worst = a
    assert worst is not None
    print(f"agreement on {len(images)} images: worst matched IoU {worst.min_iou:.4f} (needs >= {MIN_IOU}), "
          f"worst score difference {worst.max_score_diff:.4f} (needs <= {MAX_SCORE_DIFF}); "
          f"{len(disagreeing)} images disagree{': ' + ', '.join(disagreeing) if disagreeing else ''}")
    return 1 if disagreeing else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--weights", default=str(SHIPPED_WEIGHTS),
                       help="ultralytics weights (.pt or .onnx); default the shipped synthetic model")
        p.add_argument("--imgsz", type=int, help="inference image size (default 416)")

    p = subparsers.add_parser("detect", help="print what the detector sees in still images")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    common(p)
    p.add_argument("--conf", type=float, help="confidence threshold (default 0.25)")
    p.add_argument("--json", action="store_true", help="one JSON object per image")
    p.set_defaults(func=_detect)

    p = subparsers.add_parser("redact", help="write the rendition a party or case system gets")
    p.add_argument("image", type=Path, metavar="IMAGE")
    p.add_argument("-o", "--output", type=Path, required=True, help="where to write the redacted image")
    p.add_argument("--keep", type=_box, action="append", default=[], metavar="X1,Y1,X2,Y2",
                   help="a box left visible (the alert's subject); repeatable")
    common(p)
    p.add_argument("--json", action="store_true", help="what was hidden, as JSON")
    p.set_defaults(func=_redact)

    model = subparsers.add_parser("model", help="detector weights").add_subparsers(dest="model_command",
                                                                                    metavar="ACTION")
    p = model.add_parser("export", help="export weights to ONNX and check it agrees with torch")
    common(p)
    p.add_argument("-o", "--output", type=Path, help="the .onnx file (default: beside the weights)")
    p.add_argument("--check", type=Path, nargs="*", default=[], metavar="IMAGE",
                   help="images to compare on (default: generated frames)")
    p.add_argument("--generated", type=int, default=20, help="generated frames to compare on without --check")
    p.set_defaults(func=_export)
