"""The shipped detector through ultralytics: what it finds in held-out generated frames, its ONNX export finding
the same, ByteTrack ids holding over frames, and the CLI commands a user tries on their own photos."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.video.agreement import agreement
from detectors.video.detector import SHIPPED_WEIGHTS, Detector, DetectorConfig, export_onnx
from detectors.video.synthetic.classes import CLASS_NAMES
from detectors.video.synthetic.dataset import render_frame
from detectors.video.tracks import Box, box_iou

pytest.importorskip("ultralytics", reason="the detector needs the vision extra")
pytest.importorskip("torch", reason="the detector needs torch")
if not SHIPPED_WEIGHTS.exists():
    pytest.skip(f"{SHIPPED_WEIGHTS} is not built (scripts/train_detector.py)", allow_module_level=True)

SEED = 4_242  # a seed the training set (seed 0) never drew: these frames are held out
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples" / "images"


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector()


@pytest.fixture(scope="module")
def scenes() -> list:
    return [render_frame(SEED, i, 640, 0.5) for i in range(12)]


def test_on_fresh_generated_frames_it_does_what_its_card_says(detector: Detector, scenes: list) -> None:
    """Recall and precision at IoU 0.5 on frames no training run drew, against the held-out figures its card
    states (ultralytics val): a wrong class map, image size or box decoding falls far below them."""
    card = json.loads(SHIPPED_WEIGHTS.with_suffix(".metrics.json").read_text())["overall"]
    labelled = found = hits = detections = 0
    for scene in scenes:
        dets = detector.detect(scene.image)
        truth = [(CLASS_NAMES[o.class_id], Box(*map(float, o.box))) for o in scene.objects]
        labelled += len(truth)
        detections += len(dets)
        found += sum(1 for kind, box in truth if any(d.kind == kind and box_iou(d.box, box) >= 0.5 for d in dets))
        hits += sum(1 for d in dets if any(d.kind == k and box_iou(d.box, b) >= 0.5 for k, b in truth))
    assert labelled > 30 and detections > 0
    assert found / labelled >= 0.5 * card["recall"], f"recall {found}/{labelled} vs the card's {card['recall']:.3f}"
    assert hits / detections >= 0.5 * card["precision"], \
        f"precision {hits}/{detections} vs the card's {card['precision']:.3f}"


def test_onnx_export_finds_the_same_within_tolerance(detector: Detector, scenes: list, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    onnx = export_onnx(SHIPPED_WEIGHTS, tmp_path / "m.onnx", imgsz=detector.config.imgsz)
    low = DetectorConfig(confidence=0.1)  # more detections to compare
    detector, other = Detector(low), Detector(low.model_copy(update={"weights": str(onnx)}))
    matched = 0
    for scene in scenes[:6]:
        a = agreement(detector.detect(scene.image), other.detect(scene.image), threshold=detector.config.confidence)
        assert a.within(), a
        matched += a.matched
    assert matched > 5  # not an agreement of two empty lists


def test_bytetrack_keeps_an_id_while_the_scene_pans(scenes: list) -> None:
    det = Detector(DetectorConfig(confidence=0.1))  # its own tracker state
    image = next(s.image for s in scenes if len(s.objects) >= 3)
    t0 = datetime(2026, 11, 20, tzinfo=UTC)
    ids: list[set[str]] = []
    for i in range(8):
        shifted = np.roll(image, 4 * i, axis=1)  # the camera pans 4 px per frame
        ids.append({o.track_id for o in det.track(shifted, t0 + timedelta(seconds=i / 5))})
    assert ids[-1], "nothing tracked"
    assert ids[2] & ids[-1], f"no track lived from frame 2 to frame 7: {ids}"
    det.reset_tracks()  # a new flight: the tracker starts over and numbers its tracks from 1 again
    again = sorted(int(o.track_id[1:]) for o in det.track(image, t0 + timedelta(seconds=9)))
    assert again and again[0] == 1


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], capture_output=True, text=True, timeout=300)


def test_detect_cli_json_one_object_per_image_and_errors_named(tmp_path: Path, scenes: list) -> None:
    img = tmp_path / "scene.jpg"
    cv2.imwrite(str(img), scenes[0].image)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    r = cli("detect", str(img), str(bad), "--json", "--conf", "0.1")
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert r.returncode == 1 and len(lines) == 2
    assert lines[0]["width"] == 640 and lines[0]["detections"], r.stderr
    assert set(lines[0]["detections"][0]) == {"kind", "label", "score", "box"}
    assert lines[1] == {"image": str(bad), "error": "not a readable image"}


def test_redact_cli_hides_the_faces_in_the_sample_photo(tmp_path: Path) -> None:
    src = SAMPLES / "street_bus_ultralytics.jpg"
    if not src.exists():
        pytest.skip(f"{src} is not here (../shared/samples)")
    out = tmp_path / "redacted.jpg"
    r = cli("redact", str(src), "-o", str(out), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(next(line for line in r.stdout.splitlines() if line.startswith("{")))
    assert report["hidden"]["face"] >= 2
    a, b = cv2.imread(str(src)), cv2.imread(str(out))
    face = (slice(415, 485), slice(250, 320))  # the man in the middle (as the cascade finds him)
    assert np.abs(a[face].astype(int) - b[face].astype(int)).mean() > 10
