"""Train the shipped detector: YOLO11n from its yaml (no pretrained weights) on a generated synthetic dataset.

    .venv/bin/python scripts/train_detector.py --generate 3000 --gen-imgsz 640 --imgsz 416 --epochs 60 \
        --out-dir detectors/video/models

Writes `<out-dir>/<name>.pt` (the best weights) and `<out-dir>/<name>.metrics.json` (per-class precision,
recall, mAP50 and mAP50-95 on the held-out split, with the dataset's manifest and the run's settings). With
`--data` an existing data.yaml is used instead of generating one. `--dry-run` prints the plan without training.

Offline: ultralytics is imported inside main() so this module loads without it; its config dir is pointed at a
local folder holding a TTF named Arial.ttf (its dataset checks look the font up there instead of downloading it),
AMP is off (its check downloads weights) and plots are off.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a file from anywhere
    sys.path.insert(0, str(REPO))

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)
MAX_WEIGHTS_BYTES = 10 * 1024 * 1024  # the repository ships weights up to this size


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, help="an existing ultralytics data.yaml")
    src.add_argument("--generate", type=int, metavar="N", help="generate N synthetic frames first")
    p.add_argument("--dataset-dir", type=Path, default=REPO / "build" / "synthetic",
                   help="where --generate writes the dataset")
    p.add_argument("--seed", type=int, default=0, help="dataset and training seed")
    p.add_argument("--gen-imgsz", type=int, default=640, help="side of the generated frames")
    p.add_argument("--view-mix", type=float, default=0.5, help="share of aerial frames in the generated set")
    p.add_argument("--val", type=float, default=0.15, help="share of generated frames held out")
    p.add_argument("--gen-workers", type=int, default=2, help="processes drawing the generated frames")
    p.add_argument("--model", default="yolo11n.yaml", help="ultralytics model yaml (from scratch) or weights")
    p.add_argument("--imgsz", type=int, default=416, help="training and validation image size")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--workers", type=int, default=2, help="dataloader processes")
    p.add_argument("--patience", type=int, default=20, help="stop after this many epochs without improvement")
    p.add_argument("--optimizer", default="auto",
                   help="ultralytics optimizer (auto picks AdamW at a fine-tuning rate for short runs; SGD with "
                   "--lr0 0.01 is the from-scratch recipe)")
    p.add_argument("--lr0", type=float, default=0.01, help="initial learning rate (ignored with --optimizer auto)")
    p.add_argument("--warmup-epochs", type=float, default=3.0, help="learning-rate warm-up epochs")
    p.add_argument("--out-dir", type=Path, default=REPO / "detectors" / "video" / "models")
    p.add_argument("--name", default="enforcegw-yolo11n-synthetic", help="file stem of the weights and metrics")
    p.add_argument("--runs-dir", type=Path, default=REPO / "build" / "runs", help="ultralytics' run folder")
    p.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    a = p.parse_args(argv)
    if a.generate is not None and a.generate < 2:
        p.error("--generate needs at least 2 frames (one train, one val)")
    return a


def prepare_offline_env(config_dir: Path) -> Path:
    """Point ultralytics at `config_dir` and place a local TTF there as Arial.ttf; returns the font's path."""
    target = config_dir / "Ultralytics" / "Arial.ttf"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        font = next((Path(f) for f in _FONT_CANDIDATES if Path(f).exists()), None)
        if font is None:
            raise FileNotFoundError(f"no TTF font found among {_FONT_CANDIDATES}; install fonts-liberation")
        shutil.copyfile(font, target)
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    os.environ.setdefault("YOLO_OFFLINE", "true")  # ultralytics then skips its online checks
    return target


def class_metrics(box: Any, names: dict[int, str] | list[str]) -> dict[str, dict[str, float]]:
    """Per-class precision, recall, mAP50 and mAP50-95 from an ultralytics `metrics.box` (classes absent from
    the held-out set are left out)."""
    lookup = dict(enumerate(names)) if isinstance(names, list) else names
    out = {}
    for i, c in enumerate(box.ap_class_index):
        p, r, ap50, ap = box.class_result(i)
        out[lookup[int(c)]] = {"precision": float(p), "recall": float(r), "map50": float(ap50), "map50_95": float(ap)}
    return out


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def plan(a: argparse.Namespace) -> dict[str, Any]:
    return {
        "data": str(a.data) if a.data else str(a.dataset_dir / "data.yaml"),
        "generate": None if a.data else {"n": a.generate, "seed": a.seed, "imgsz": a.gen_imgsz,
                                          "view_mix": a.view_mix, "val": a.val, "workers": a.gen_workers,
                                          "dir": str(a.dataset_dir)},
        "train": {"model": a.model, "imgsz": a.imgsz, "epochs": a.epochs, "batch": a.batch, "workers": a.workers,
                  "patience": a.patience, "seed": a.seed, "device": "cpu"},
        "weights": str(a.out_dir / f"{a.name}.pt"),
        "metrics": str(a.out_dir / f"{a.name}.metrics.json"),
    }


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    steps = plan(a)
    if a.dry_run:
        print(json.dumps(steps, indent=2))
        return 0
    data_yaml = Path(steps["data"])
    manifest: dict[str, Any] | None = None
    if a.generate is not None:
        from detectors.video.synthetic.dataset import generate

        info = generate(a.dataset_dir, a.generate, seed=a.seed, imgsz=a.gen_imgsz,
                        split={"train": 1 - a.val, "val": a.val}, view_mix=a.view_mix, workers=a.gen_workers)
        print(f"generated {sum(info.images.values())} frames in {info.seconds:.0f} s "
              f"({info.images_per_second:.1f}/s)", flush=True)
    manifest_path = data_yaml.parent / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())

    prepare_offline_env(a.runs_dir / "config")
    from ultralytics import YOLO  # the vision extra; imported here so the module loads without it

    # training on from earlier weights of ours: their metrics say what they were, the new card what they became
    previous = None
    prior = Path(a.model).with_suffix(".metrics.json")
    if a.model.endswith(".pt") and prior.exists():
        previous = json.loads(prior.read_text())
    t0 = time.perf_counter()
    model = YOLO(a.model)
    model.train(data=str(data_yaml), imgsz=a.imgsz, epochs=a.epochs, batch=a.batch, workers=a.workers,
                patience=a.patience, seed=a.seed, deterministic=True, device="cpu", amp=False, plots=False,
                optimizer=a.optimizer, lr0=a.lr0, warmup_epochs=a.warmup_epochs,
                project=str(a.runs_dir), name=a.name, exist_ok=True, verbose=True)
    train_s = time.perf_counter() - t0
    best = Path(model.trainer.best)
    a.out_dir.mkdir(parents=True, exist_ok=True)
    weights = a.out_dir / f"{a.name}.pt"
    shutil.copyfile(best, weights)

    val = YOLO(str(weights)).val(data=str(data_yaml), imgsz=a.imgsz, split="val", batch=a.batch, device="cpu",
                                 plots=False, project=str(a.runs_dir), name=f"{a.name}-val", exist_ok=True)
    result = {
        "weights": weights.name, "weights_bytes": weights.stat().st_size, "weights_sha256": sha256_file(weights),
        "model": a.model, "imgsz": a.imgsz, "epochs": a.epochs, "batch": a.batch, "seed": a.seed,
        "optimizer": a.optimizer, "lr0": a.lr0, "previous": previous,
        "train_seconds": round(train_s, 1),
        "overall": {"precision": float(val.box.mp), "recall": float(val.box.mr), "map50": float(val.box.map50),
                    "map50_95": float(val.box.map)},
        "per_class": class_metrics(val.box, val.names),
        "dataset": manifest,
    }
    metrics_path = a.out_dir / f"{a.name}.metrics.json"
    metrics_path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["overall"]), flush=True)
    if result["weights_bytes"] > MAX_WEIGHTS_BYTES:
        print(f"warning: {weights} is {result['weights_bytes']} bytes, over the {MAX_WEIGHTS_BYTES} shipped limit",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
