"""A YOLO-format dataset of generated scenes, reproducible from its seed.

Layout under `out_dir`:

    images/{train,val}/000123.jpg   the frames (JPEG at each scene's drawn quality)
    labels/{train,val}/000123.txt   one `class cx cy w h` line per object, normalised to the image size
    data.yaml                       the dataset for ultralytics: path, train, val, names in CLASS_NAMES order
    manifest.json                   seed, sizes, split and view counts, objects per class, generator version

Frame i is drawn from its own generator seeded with (seed, i), so the same seed gives byte-identical labels and
any frame can be redrawn alone.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from detectors.video.synthetic.classes import CLASS_NAMES
from detectors.video.synthetic.scene import RenderedScene, RenderOptions, ViewKind, render_scene

GENERATOR_VERSION = "1"  # bump when a change alters what a seed produces


class DatasetInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    out_dir: Path = Field(description="Root of the dataset.")
    data_yaml: Path = Field(description="The ultralytics dataset file.")
    manifest: Path = Field(description="The manifest JSON.")
    images: dict[str, int] = Field(description="Images per split.")
    objects_per_class: dict[str, int] = Field(description="Labelled objects per class name over all splits.")
    seconds: float = Field(description="Wall time of the generation.")

    @property
    def images_per_second(self) -> float:
        return sum(self.images.values()) / max(self.seconds, 1e-9)


def frame_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, index])


def frame_view(rng: np.random.Generator, view_mix: float) -> ViewKind:
    return "aerial" if rng.random() < view_mix else "street"


def render_frame(seed: int, index: int, imgsz: int, view_mix: float,
                 options: RenderOptions | None = None) -> RenderedScene:
    """Frame `index` of the dataset with this seed, exactly as `generate` draws it."""
    rng = frame_rng(seed, index)
    return render_scene(rng, imgsz, frame_view(rng, view_mix), options)


def label_lines(scene: RenderedScene) -> str:
    h, w = scene.image.shape[:2]
    rows = []
    for obj in scene.objects:
        cx, cy, bw, bh = obj.yolo(w, h)
        rows.append(f"{obj.class_id} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f}\n")
    return "".join(rows)


def parse_label_file(text: str) -> list[tuple[int, float, float, float, float]]:
    """Lines of a YOLO label file; refuses (ValueError) a line that is not `class cx cy w h` in range."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if len(parts) != 5:
            raise ValueError(f"line {n}: expected 5 fields, got {len(parts)}")
        cls, vals = int(parts[0]), tuple(float(p) for p in parts[1:])
        if not 0 <= cls < len(CLASS_NAMES):
            raise ValueError(f"line {n}: class {cls} outside 0..{len(CLASS_NAMES) - 1}")
        if not all(0.0 <= v <= 1.0 for v in vals) or vals[2] <= 0 or vals[3] <= 0:
            raise ValueError(f"line {n}: box {vals} not normalised")
        out.append((cls, *vals))
    return out


def split_sizes(n: int, split: Mapping[str, float]) -> dict[str, int]:
    """Images per split, in the mapping's order; the last split takes the rounding remainder."""
    names = list(split)
    total = sum(split.values())
    if not names or total <= 0 or any(v < 0 for v in split.values()):
        raise ValueError(f"split {dict(split)} needs non-negative fractions with a positive sum")
    sizes = {k: round(n * split[k] / total) for k in names[:-1]}
    sizes[names[-1]] = n - sum(sizes.values())
    if sizes[names[-1]] < 0:
        raise ValueError(f"split {dict(split)} does not fit {n} images")
    return sizes


@dataclass(frozen=True)
class _EncodedFrame:
    jpeg: bytes
    labels: str
    view: str
    class_ids: tuple[int, ...]


def _encoded_frame(job: tuple[int, int, int, float, RenderOptions | None]) -> _EncodedFrame:
    seed, index, imgsz, view_mix, options = job
    scene = render_frame(seed, index, imgsz, view_mix, options)
    ok, jpg = cv2.imencode(".jpg", scene.image, [cv2.IMWRITE_JPEG_QUALITY, scene.jpeg_quality])
    if not ok:
        raise RuntimeError(f"JPEG encoding failed for frame {index}")
    return _EncodedFrame(jpg.tobytes(), label_lines(scene), scene.view, tuple(o.class_id for o in scene.objects))


def generate(out_dir: Path | str, n: int, *, seed: int, imgsz: int = 640,
             split: Mapping[str, float] | None = None, view_mix: float = 0.5,
             options: RenderOptions | None = None, progress: bool = True, workers: int = 1) -> DatasetInfo:
    """Write `n` frames; `view_mix` is the share of aerial frames, the rest are street views. With `workers` > 1
    frames are drawn in that many processes; each frame has its own generator, so the files are the same."""
    if n < 1 or imgsz < 32 or not 0 <= view_mix <= 1:
        raise ValueError(f"need n >= 1, imgsz >= 32 and 0 <= view_mix <= 1 (got {n}, {imgsz}, {view_mix})")
    out = Path(out_dir)
    sizes = split_sizes(n, split or {"train": 0.85, "val": 0.15})
    for part in sizes:
        (out / "images" / part).mkdir(parents=True, exist_ok=True)
        (out / "labels" / part).mkdir(parents=True, exist_ok=True)
    per_class = {name: 0 for name in CLASS_NAMES}
    per_split_class = {part: {name: 0 for name in CLASS_NAMES} for part in sizes}
    views = {"aerial": 0, "street": 0}
    parts = [part for part, k in sizes.items() for _ in range(k)]
    jobs = [(seed, index, imgsz, view_mix, options) for index in range(n)]
    t0 = time.perf_counter()
    pool = multiprocessing.get_context("spawn").Pool(workers) if workers > 1 else None
    try:
        frames = pool.imap(_encoded_frame, jobs, chunksize=4) if pool else map(_encoded_frame, jobs)
        for index, (part, frame) in enumerate(tqdm(zip(parts, frames, strict=True), total=n, desc="generating",
                                                   unit="img", disable=not progress)):
            stem = f"{index:06d}"
            (out / "images" / part / f"{stem}.jpg").write_bytes(frame.jpeg)
            (out / "labels" / part / f"{stem}.txt").write_text(frame.labels)
            views[frame.view] += 1
            for class_id in frame.class_ids:
                per_class[CLASS_NAMES[class_id]] += 1
                per_split_class[part][CLASS_NAMES[class_id]] += 1
    finally:
        if pool:
            pool.terminate()
    seconds = time.perf_counter() - t0
    data_yaml = out / "data.yaml"
    data_yaml.write_text(yaml.safe_dump({
        "path": str(out.resolve()),
        **{part: f"images/{part}" for part in sizes},
        "names": dict(enumerate(CLASS_NAMES)),
    }, sort_keys=False))
    manifest = out / "manifest.json"
    manifest.write_text(json.dumps({
        "generator_version": GENERATOR_VERSION, "seed": seed, "n": n, "imgsz": imgsz, "view_mix": view_mix,
        "options": (options or RenderOptions()).model_dump(), "images": sizes, "views": views,
        "objects_per_class": per_class, "objects_per_split_class": per_split_class, "names": list(CLASS_NAMES),
    }, indent=2) + "\n")
    return DatasetInfo(out_dir=out, data_yaml=data_yaml, manifest=manifest, images=sizes,
                       objects_per_class=per_class, seconds=seconds)


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(description="Write a synthetic YOLO dataset.")
    p.add_argument("out_dir", type=Path)
    p.add_argument("-n", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--val", type=float, default=0.15, help="share of frames held out for validation")
    p.add_argument("--view-mix", type=float, default=0.5, help="share of aerial frames")
    p.add_argument("--workers", type=int, default=1, help="processes drawing frames")
    a = p.parse_args(argv)
    info = generate(a.out_dir, a.n, seed=a.seed, imgsz=a.imgsz, split={"train": 1 - a.val, "val": a.val},
                    view_mix=a.view_mix, workers=a.workers)
    print(f"{sum(info.images.values())} images in {info.seconds:.1f} s ({info.images_per_second:.1f}/s): "
          f"{info.objects_per_class}; {info.data_yaml}")


if __name__ == "__main__":
    main()
