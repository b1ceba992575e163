"""Video detection figures on this machine, each beside the raw limit measured in the same run.

    python bench/video.py [--weights FILE] [--frames 60] [--imgsz 416]

1. Inference per frame: torch (.pt) and onnxruntime (its ONNX export), ultralytics' predict on generated 640x640
   frames; the raw limit is onnxruntime's bare session.run on the same preprocessed tensor.
2. The whole pipeline per frame (gate, detect + ByteTrack, image zones, rules, lifecycle; no store): a street
   scene that is still (the gate skips) and one that moves (it infers every frame), in frames/s on one core,
   against the same frames' bare predict.
3. Plate reading per vehicle crop (PP-OCRv4 via rapidocr) and face finding per 720p frame (Haar cascades).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detectors.video.detector import SHIPPED_WEIGHTS, Detector, DetectorConfig, export_onnx  # noqa: E402
from detectors.video.gate import GateConfig, InferenceGate  # noqa: E402
from detectors.video.image_zones import ImageZoneConfig  # noqa: E402
from detectors.video.redaction import FaceFinder  # noqa: E402
from detectors.video.synthetic.dataset import render_frame  # noqa: E402
from detectors.video.video_alerts import VideoAlerts  # noqa: E402
from detectors.video.violations import ViolationEngine, ViolationRules  # noqa: E402
from gateway.video.placement import ImagePlacement  # noqa: E402
from gateway.video.stream_pipeline import StreamPipeline  # noqa: E402
from ingest.video.frames import Frame, FrameTime  # noqa: E402

SEED = 9_101  # frames no training set drew


def timed(fn, items, desc: str) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for item in tqdm(items, desc=desc, unit="frame", file=sys.stderr):
        t0 = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t0) * 1000)
    return out[3:] if len(out) > 6 else out  # the first calls warm caches


def ms(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} / {sorted(values)[int(0.95 * (len(values) - 1))]:.1f}"


def bare_onnx(onnx_path: Path, imgsz: int) -> tuple[object, np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((1, 3, imgsz, imgsz), dtype=np.float32)
    return session, x


def _moving(frames: list[np.ndarray], i: int) -> np.ndarray:
    """Frame 0's street with a block of another scene crossing it, 12 px per frame: motion the gate sees."""
    img = frames[0].copy()
    x = (40 + 12 * i) % (img.shape[1] - 160)
    img[300:420, x:x + 160] = frames[1][300:420, 200:360]
    return img


def pipeline_fps(weights: str, imgsz: int, frames: list[np.ndarray], moving: bool) -> tuple[float, dict[str, int]]:
    det = Detector(DetectorConfig(weights=weights, imgsz=imgsz))
    zone = ImageZoneConfig(id="z", kind="no_parking", coordinates=((0, 0.5), (1, 0.5), (1, 1), (0, 1)))
    p = StreamPipeline("bench", "bench", detector=det, gate=InferenceGate(GateConfig()),
                       placement=ImagePlacement([zone]), engine=ViolationEngine.for_zones(ViolationRules(), [zone]),
                       alerts=VideoAlerts("bench"), on_event=lambda _e: None)
    t0 = datetime(2026, 11, 20, tzinfo=UTC)
    images = [_moving(frames, i) for i in range(len(frames))] if moving else [frames[0]] * len(frames)
    start = time.process_time()
    for i, img in enumerate(tqdm(images, desc=f"pipeline, {'moving' if moving else 'still'} scene", unit="frame",
                                 file=sys.stderr)):
        p.handle(Frame("bench", "bench", i, img, t0 + timedelta(seconds=i / 5), FrameTime.STREAM, t0))
    cpu = time.process_time() - start
    return len(images) / cpu, p.gate.counters.as_dict()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default=str(SHIPPED_WEIGHTS))
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--imgsz", type=int, default=416)
    args = ap.parse_args()
    frames = [render_frame(SEED, i, 640, 0.0).image for i in range(args.frames)]
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_onnx(args.weights, Path(tmp) / "model.onnx", imgsz=args.imgsz)
        torch_det = Detector(DetectorConfig(weights=args.weights, imgsz=args.imgsz))
        onnx_det = Detector(DetectorConfig(weights=str(onnx_path), imgsz=args.imgsz))
        t_torch = timed(torch_det.detect, frames, "torch predict")
        t_onnx = timed(onnx_det.detect, frames, "onnxruntime predict")
        session, x = bare_onnx(onnx_path, args.imgsz)
        name = session.get_inputs()[0].name  # type: ignore[attr-defined]
        t_raw = timed(lambda _i: session.run(None, {name: x}), range(args.frames), "bare session.run")  # type: ignore
    raw = statistics.median(t_raw)
    table = Table("per frame", "median / p95 ms", "x raw", title=f"1. inference, {args.imgsz} px, 1 process")
    for label, values in (("torch predict (.pt)", t_torch), ("onnxruntime predict (.onnx)", t_onnx),
                          ("raw: bare onnxruntime session.run", t_raw)):
        table.add_row(label, ms(values), f"{statistics.median(values) / raw:.2f}")
    console.print(table)
    still, still_counts = pipeline_fps(args.weights, args.imgsz, frames, moving=False)
    moving, moving_counts = pipeline_fps(args.weights, args.imgsz, frames, moving=True)
    bare = 1000 / statistics.median(t_torch)
    table = Table("scene", "frames/s (CPU time)", "inferred / seen", "x bare predict", title="2. pipeline")
    table.add_row("still street (gate skips)", f"{still:.1f}",
                  f"{still_counts['inferred']} / {still_counts['frames_seen']}", f"{still / bare:.2f}")
    table.add_row("moving (a block crosses the street)", f"{moving:.1f}",
                  f"{moving_counts['inferred']} / {moving_counts['frames_seen']}", f"{moving / bare:.2f}")
    table.add_row("raw: bare torch predict", f"{bare:.1f}", "-", "1.00")
    console.print(table)
    faces = FaceFinder()
    big = [np.ascontiguousarray(np.resize(f, (720, 1280, 3))) for f in frames[:12]]
    t_faces = timed(faces.find, big, "faces (Haar), 720p")
    table = Table("step", "median / p95 ms", title="3. plates and faces")
    table.add_row("faces per 720p frame (frontal + profile both ways)", ms(t_faces))
    try:
        from detectors.video.plate_reader import PlateReader
        from testkit.plate_images import car_rear, font_available
        if font_available():
            reader = PlateReader()
            cars = [car_rear("粤B12345", width_px=240, seed=i) for i in range(12)]
            t_plates = timed(lambda c: reader.read(c, None), cars, "plates (PP-OCRv4)")
            table.add_row("plate per vehicle crop (PP-OCRv4)", ms(t_plates))
    except RuntimeError as exc:
        table.add_row("plate per vehicle crop", f"not measured: {exc}")
    console.print(table)


if __name__ == "__main__":
    main()
