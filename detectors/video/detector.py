"""The object detector: any ultralytics YOLO weights (a `.pt`, or its ONNX export run by onnxruntime), its
classes mapped to our object kinds, and per-stream ByteTrack tracking.

The loading code is the same for every weights file: the shipped synthetic model
(detectors/video/models/enforcegw-yolo11n-synthetic.pt), a COCO `yolo11n.pt` (ultralytics fetches it when
online) or an `.onnx` file that `export_onnx` wrote. Tracking is ultralytics' own ByteTrack (`bytetrack.yaml`,
named explicitly as ultralytics 8.4 asks); each stream gets its own `Detector`, since a tracker's state
belongs to one sequence of frames.

ultralytics and torch are imported on first use, so the rest of the gateway runs without the `vision` extra.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from detectors.video.synthetic.classes import CLASS_NAMES
from detectors.video.tracks import Box, TrackedObject

MODELS_DIR = Path(__file__).resolve().parent / "models"
SHIPPED_WEIGHTS = MODELS_DIR / "enforcegw-yolo11n-synthetic.pt"

# COCO names (a stock yolo11n.pt) that mean one of our kinds; the others (bench, dog, ...) are not kept.
COCO_KINDS: dict[str, str] = {"car": "car", "truck": "truck", "bus": "truck", "boat": "boat", "person": "person"}


class DetectorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    weights: str = Field(default=str(SHIPPED_WEIGHTS),
                         description="ultralytics weights: a .pt file, its .onnx export, or a name ultralytics "
                         "downloads when online (yolo11n.pt). Default: the synthetic model the project ships.")
    imgsz: int = Field(default=416, ge=32, le=4096, description="Inference image size (pixels, multiple of 32).")
    confidence: float = Field(default=0.25, gt=0.0, lt=1.0, description="Detections below this score are dropped.")
    iou: float = Field(default=0.5, gt=0.0, lt=1.0, description="Non-maximum suppression IoU threshold.")
    classes: dict[str, str] | None = Field(
        default=None,
        description="Model class name -> our object kind. None: names that are already our kinds are kept as "
        "they are and COCO's car/truck/bus/boat/person are mapped; classes not in the map are dropped.")
    tracker: str = Field(default="bytetrack.yaml", description="ultralytics tracker config (ByteTrack).")
    device: str = Field(default="cpu", description="torch device for .pt weights (onnxruntime runs on the CPU).")


@dataclass(frozen=True, slots=True)
class Detection:
    """One detection in one image: our kind, the model's own class name, score and box in image pixels."""

    kind: str
    label: str
    score: float
    box: Box

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "score": round(self.score, 4),
                "box": [round(v, 1) for v in self.box]}


def kind_map(names: dict[int, str], classes: dict[str, str] | None) -> dict[int, str]:
    """Class index -> our kind, for the model's `names`; indices left out are not ours."""
    if classes is not None:
        return {i: classes[n] for i, n in names.items() if n in classes}
    ours = set(CLASS_NAMES)
    return {i: n if n in ours else COCO_KINDS[n] for i, n in names.items() if n in ours or n in COCO_KINDS}


class Detector:
    """One model instance (and, for `track`, one stream's tracker). Thread-safe: calls are serialised."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self._model: Any = None
        self._kinds: dict[int, str] = {}
        self._names: dict[int, str] = {}
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._model is None:
            try:
                # ultralytics greets a new settings file on stdout, which is a --json reader's stream
                with contextlib.redirect_stdout(sys.stderr):
                    from ultralytics import YOLO
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise RuntimeError("object detection needs the vision extra: pip install 'enforcegw[vision]' "
                                   "(and torch)") from exc
            weights = self.config.weights
            if weights.endswith((".pt", ".onnx")) and "/" in weights and not Path(weights).exists():
                raise FileNotFoundError(f"detector.weights: {weights} does not exist")
            self._model = YOLO(weights, task="detect")
            self._names = dict(self._model.names)
            self._kinds = kind_map(self._names, self.config.classes)
        return self._model

    @property
    def names(self) -> dict[int, str]:
        self._load()
        return dict(self._names)

    def _args(self) -> dict[str, Any]:
        c = self.config
        device = "cpu" if c.weights.endswith(".onnx") else c.device
        return {"imgsz": c.imgsz, "conf": c.confidence, "iou": c.iou, "device": device, "verbose": False}

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Detections of our kinds in one BGR image (as OpenCV reads it), best score first."""
        with self._lock:
            model = self._load()
            result = model.predict(image, **self._args())[0]
        return sorted(self._detections(result), key=lambda d: -d.score)

    def track(self, image: np.ndarray, at: datetime) -> list[TrackedObject]:
        """This stream's next frame through ByteTrack: tracked objects of our kinds with stable track ids.
        Detections the tracker has not confirmed yet carry no id and are left out."""
        with self._lock:
            model = self._load()
            result = model.track(image, persist=True, tracker=self.config.tracker, **self._args())[0]
        boxes = result.boxes
        if boxes is None or boxes.id is None:
            return []
        out = []
        for xyxy, cls, score, tid in zip(boxes.xyxy.tolist(), boxes.cls.tolist(), boxes.conf.tolist(),
                                         boxes.id.tolist(), strict=True):
            kind = self._kinds.get(int(cls))
            if kind is not None:
                out.append(TrackedObject(f"t{int(tid)}", kind, float(score), Box(*map(float, xyxy)), at))
        return out

    def reset_tracks(self) -> None:
        """Forget the tracker's state (a new flight or a cut in the stream)."""
        with self._lock:
            model = self._model
            predictor = getattr(model, "predictor", None) if model is not None else None
            for tracker in getattr(predictor, "trackers", None) or []:
                tracker.reset()

    def _detections(self, result: Any) -> list[Detection]:
        boxes = result.boxes
        if boxes is None:
            return []
        out = []
        for xyxy, cls, score in zip(boxes.xyxy.tolist(), boxes.cls.tolist(), boxes.conf.tolist(), strict=True):
            kind = self._kinds.get(int(cls))
            if kind is not None:
                out.append(Detection(kind, self._names.get(int(cls), str(int(cls))), float(score),
                                     Box(*map(float, xyxy))))
        return out


def export_onnx(weights: str | Path, out: Path, *, imgsz: int = 416) -> Path:
    """Export `.pt` weights to ONNX (opset chosen by ultralytics, simplified with onnxslim) at `out`."""
    with contextlib.redirect_stdout(sys.stderr):
        from ultralytics import YOLO

    model = YOLO(str(weights), task="detect")
    written = Path(model.export(format="onnx", imgsz=imgsz, simplify=True, dynamic=False, verbose=False))
    out.parent.mkdir(parents=True, exist_ok=True)
    if written.resolve() != out.resolve():
        written.replace(out)
    return out
