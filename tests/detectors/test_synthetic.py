"""Synthetic training scenes: labels match what is drawn, occlusion and clipping, determinism, the YOLO files."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.video.synthetic.canvas import LABEL_ALPHA, Canvas, Sprite
from detectors.video.synthetic.catalogue import draw
from detectors.video.synthetic.classes import CLASS_IDS, CLASS_NAMES
from detectors.video.synthetic.dataset import generate, label_lines, parse_label_file, render_frame, split_sizes
from detectors.video.synthetic.scene import RenderOptions, area_scale, render_scene
from detectors.video.synthetic.shading import CameraEffects, apply_camera

CLEAN = RenderOptions(camera_effects=False, shadows=False, clutter=False)
REPO = Path(__file__).resolve().parents[2]


def _square(side: int, colour: float = 1.0) -> Sprite:
    return Sprite(np.full((side, side, 3), colour, np.float32), np.ones((side, side), np.float32), 0.0, 0.0)


def _assert_boxes_match_masks(scene, imgsz: int) -> None:
    for obj in scene.objects:
        x1, y1, x2, y2 = obj.box
        assert 0 <= x1 < x2 <= imgsz and 0 <= y1 < y2 <= imgsz
        full = obj.mask.full_mask(imgsz, imgsz)
        ys, xs = np.nonzero(full)
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == obj.box


@pytest.mark.parametrize("view", ["aerial", "street"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_boxes_are_the_bounds_of_the_visible_masks(view: str, seed: int) -> None:
    scene = render_scene(np.random.default_rng(seed), 192, view)  # type: ignore[arg-type]
    assert scene.image.shape == (192, 192, 3) and scene.image.dtype == np.uint8
    _assert_boxes_match_masks(scene, 192)


@pytest.mark.parametrize("view", ["top", "side"])
@pytest.mark.parametrize("kind", CLASS_NAMES)
def test_box_covers_every_clearly_drawn_pixel(kind: str, view: str) -> None:
    """On a flat background each pixel the sprite changed by more than a label-threshold blend lies in the box.
    A fire's glow is light thrown on its surroundings, not the fire, so it is left out here as in the label."""
    bg = 0.5
    canvas = Canvas(np.full((160, 160, 3), bg, np.float32))
    sprite = replace(draw(kind, view, np.random.default_rng(7), 40), glow=None)  # type: ignore[arg-type]
    canvas.paste(sprite, 80, 100, CLASS_IDS[kind])
    [obj] = canvas.objects
    box = obj.box()
    assert box is not None
    changed = np.abs(canvas.image - bg).max(axis=2) > LABEL_ALPHA * 0.5 + 1e-3
    ys, xs = np.nonzero(changed)
    assert len(xs) > 0
    x1, y1, x2, y2 = box
    assert xs.min() >= x1 and xs.max() < x2 and ys.min() >= y1 and ys.max() < y2
    assert obj.visible_px() == obj.drawn_px  # nothing hidden, nothing outside


@pytest.mark.parametrize(("first", "second", "expected"), [
    ((10, 10, 20), (20, 10, 20), (10, 10, 20, 30)),  # right half covered: left half stays
    ((10, 10, 20), (10, 20, 20), (10, 10, 30, 20)),  # lower half covered
    ((10, 10, 20), (5, 5, 30), None),  # wholly covered: nothing visible
    ((10, 10, 20), (40, 40, 10), (10, 10, 30, 30)),  # apart: untouched
])
def test_later_opaque_sprite_hides_earlier_pixels(first, second, expected) -> None:
    canvas = Canvas(np.zeros((64, 64, 3), np.float32))
    canvas.paste(_square(first[2]), first[0], first[1], 0)
    canvas.paste(_square(second[2], 0.3), second[0], second[1], None)  # unlabelled clutter occludes too
    assert canvas.objects[0].box() == expected


def test_semi_transparent_sprite_labels_but_does_not_hide() -> None:
    canvas = Canvas(np.zeros((64, 64, 3), np.float32))
    canvas.paste(_square(20), 10, 10, 0)
    haze = Sprite(np.ones((30, 30, 3), np.float32), np.full((30, 30), 0.5, np.float32), 0.0, 0.0)
    canvas.paste(haze, 0, 0, CLASS_IDS["smoke"])
    assert canvas.objects[0].box() == (10, 10, 30, 30)
    assert canvas.objects[1].box() == (0, 0, 30, 30)


@pytest.mark.parametrize(("x", "y", "expected", "visible"), [
    (-10, 5, (0, 5, 10, 25), 200),  # half off the left edge
    (55, 50, (55, 50, 64, 64), 9 * 14),  # off the bottom-right corner
    (-30, 0, None, 0),  # wholly outside
])
def test_clipped_sprite_keeps_only_pixels_inside(x: int, y: int, expected, visible: int) -> None:
    canvas = Canvas(np.zeros((64, 64, 3), np.float32))
    canvas.paste(_square(20), x, y, 0)
    if expected is None:
        assert canvas.objects == []
        return
    [obj] = canvas.objects
    assert obj.box() == expected and obj.visible_px() == visible and obj.drawn_px == 400


def test_hidden_and_clipped_objects_lose_their_label() -> None:
    """An object mostly outside the frame falls under min_visible_fraction and gets no box."""
    opts = RenderOptions(camera_effects=False, min_visible_fraction=0.25)
    for seed in range(6):
        scene = render_scene(np.random.default_rng(seed), 160, "street", opts)
        for obj in scene.objects:
            assert obj.mask.visible_px() >= 0.25 * obj.mask.drawn_px


def test_every_class_appears_over_a_modest_set() -> None:
    counts: Counter[str] = Counter()
    for i in range(40):
        counts.update(CLASS_NAMES[o.class_id] for o in render_frame(11, i, 160, 0.5).objects)
    assert set(counts) == set(CLASS_NAMES), counts


def test_same_seed_gives_identical_labels_and_other_seed_does_not(tmp_path: Path) -> None:
    infos = [generate(tmp_path / name, 6, seed=seed, imgsz=128, progress=False)
             for name, seed in (("a", 5), ("b", 5), ("c", 6))]
    labels = [{p.relative_to(i.out_dir): p.read_bytes() for p in sorted(i.out_dir.glob("labels/*/*.txt"))}
              for i in infos]
    assert labels[0] == labels[1] and labels[0] != labels[2]
    images = [{p.relative_to(i.out_dir): p.read_bytes() for p in sorted(i.out_dir.glob("images/*/*.jpg"))}
              for i in infos]
    assert images[0] == images[1]
    assert infos[0].manifest.read_text() == infos[1].manifest.read_text()


@pytest.mark.slow
def test_worker_processes_write_the_same_files(tmp_path: Path) -> None:
    one = generate(tmp_path / "one", 5, seed=9, imgsz=96, progress=False)
    two = generate(tmp_path / "two", 5, seed=9, imgsz=96, progress=False, workers=2)
    for pattern in ("labels/*/*.txt", "images/*/*.jpg", "manifest.json"):
        a = {p.relative_to(one.out_dir): p.read_bytes() for p in sorted(one.out_dir.glob(pattern))}
        b = {p.relative_to(two.out_dir): p.read_bytes() for p in sorted(two.out_dir.glob(pattern))}
        assert a == b and a


def test_written_files_parse_back(tmp_path: Path) -> None:
    info = generate(tmp_path, 5, seed=3, imgsz=128, split={"train": 0.6, "val": 0.4}, progress=False)
    assert info.images == {"train": 3, "val": 2}
    data = yaml.safe_load(info.data_yaml.read_text())
    assert data["names"] == dict(enumerate(CLASS_NAMES))
    assert (Path(data["path"]) / data["val"]).is_dir()
    manifest = json.loads(info.manifest.read_text())
    assert manifest["seed"] == 3 and manifest["images"] == {"train": 3, "val": 2}
    total = Counter()
    for index in range(5):
        part = "train" if index < 3 else "val"
        rows = parse_label_file((tmp_path / "labels" / part / f"{index:06d}.txt").read_text())
        scene = render_frame(3, index, 128, 0.5)
        assert len(rows) == len(scene.objects)
        for (cls, *box), obj in zip(rows, scene.objects, strict=True):
            assert cls == obj.class_id
            assert np.allclose(box, obj.yolo(128, 128), atol=1e-6)
        total.update(CLASS_NAMES[r[0]] for r in rows)
        assert (tmp_path / "images" / part / f"{index:06d}.jpg").stat().st_size > 0
    assert dict(total) == {k: v for k, v in manifest["objects_per_class"].items() if v}


@pytest.mark.parametrize(("text", "reason"), [
    ("0 0.5 0.5 0.1", "expected 5 fields"),
    ("10 0.5 0.5 0.1 0.1", "class 10 outside"),
    ("-1 0.5 0.5 0.1 0.1", "class -1 outside"),
    ("0 1.5 0.5 0.1 0.1", "not normalised"),
    ("0 0.5 0.5 0.0 0.1", "not normalised"),
])
def test_label_parser_refuses_bad_lines(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_label_file(text)


@pytest.mark.parametrize(("n", "split", "expected"), [
    (10, {"train": 0.8, "val": 0.2}, {"train": 8, "val": 2}),
    (7, {"train": 0.85, "val": 0.15}, {"train": 6, "val": 1}),
    (3, {"train": 1.0, "val": 0.0}, {"train": 3, "val": 0}),
    (5, {"train": 2, "val": 2, "test": 1}, {"train": 2, "val": 2, "test": 1}),
])
def test_split_sizes(n: int, split: dict[str, float], expected: dict[str, int]) -> None:
    assert split_sizes(n, split) == expected


@pytest.mark.parametrize("split", [{}, {"train": 0.0}, {"train": -1.0, "val": 2.0}])
def test_split_sizes_refuses_bad_fractions(split: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        split_sizes(10, split)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), view=st.sampled_from(["aerial", "street"]),
       imgsz=st.sampled_from([64, 96, 128]))
def test_any_seed_renders_with_valid_labels(seed: int, view: str, imgsz: int) -> None:
    scene = render_scene(np.random.default_rng(seed), imgsz, view)  # type: ignore[arg-type]
    _assert_boxes_match_masks(scene, imgsz)
    for line in parse_label_file(label_lines(scene)):
        assert 0 <= line[0] < len(CLASS_NAMES)


def test_clean_render_has_no_camera_noise() -> None:
    scene = render_scene(np.random.default_rng(4), 96, "aerial", CLEAN)
    assert scene.jpeg_quality == 95 and scene.unlabelled >= 0


def _train_script():
    spec = importlib.util.spec_from_file_location("train_detector", REPO / "scripts" / "train_detector.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_detector"] = module
    spec.loader.exec_module(module)
    return module


def test_train_script_dry_run_plans_without_ultralytics(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    script = _train_script()
    assert script.main(["--generate", "50", "--dataset-dir", str(tmp_path / "ds"), "--imgsz", "320",
                        "--epochs", "3", "--out-dir", str(tmp_path / "out"), "--dry-run"]) == 0
    steps = json.loads(capsys.readouterr().out)
    assert steps["data"] == str(tmp_path / "ds" / "data.yaml")
    assert steps["generate"]["n"] == 50 and steps["train"]["imgsz"] == 320 and steps["train"]["epochs"] == 3
    assert steps["weights"] == str(tmp_path / "out" / "enforcegw-yolo11n-synthetic.pt")
    assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize("argv", [[], ["--generate", "1"], ["--generate", "5", "--data", "x.yaml"]])
def test_train_script_refuses_bad_arguments(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        _train_script().parse_args(argv)


def test_train_script_places_a_local_font(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YOLO_CONFIG_DIR", raising=False)
    script = _train_script()
    try:
        font = script.prepare_offline_env(tmp_path / "cfg")
    except FileNotFoundError as e:
        pytest.skip(str(e))
    assert font == tmp_path / "cfg" / "Ultralytics" / "Arial.ttf"
    assert font.read_bytes()[:4] in (b"\x00\x01\x00\x00", b"true", b"OTTO")
    assert os.environ["YOLO_CONFIG_DIR"] == str(tmp_path / "cfg")


class _StandInBox:
    """The part of ultralytics' box metrics the script reads (ultralytics is not installed in the test venv)."""

    ap_class_index = np.array([0, 3])

    def class_result(self, i: int) -> tuple[float, float, float, float]:
        return ((0.9, 0.8, 0.85, 0.6), (0.5, 0.4, 0.45, 0.3))[i]


def test_train_script_reads_per_class_metrics() -> None:
    got = _train_script().class_metrics(_StandInBox(), list(CLASS_NAMES))
    assert got == {"car": {"precision": 0.9, "recall": 0.8, "map50": 0.85, "map50_95": 0.6},
                   "person": {"precision": 0.5, "recall": 0.4, "map50": 0.45, "map50_95": 0.3}}


@pytest.mark.parametrize(("hgr", "x", "y", "expected"), [
    (np.eye(3), 10.0, 20.0, 1.0),
    (np.diag([2.0, 3.0, 1.0]), 5.0, 5.0, 6.0),
    (np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0.01, 1.0]]), 0.0, 100.0, 1 / 8),  # w = 2 there: area / 2^3
])
def test_area_scale_of_a_homography(hgr: np.ndarray, x: float, y: float, expected: float) -> None:
    assert area_scale(hgr, x, y) == pytest.approx(expected)


@pytest.mark.parametrize(("haze", "vignette", "centre", "corner"), [
    (0.0, 0.0, 51, 51),  # 0.2 * 255
    (0.5, 0.0, 128, 128),  # half way to the 0.8 haze: 0.5 * 255 = 127.5
    (0.5, 0.3, 128, 89),  # corner r^2 = 2: 1 - 0.15 * 2 = 0.7 of 127.5
])
def test_camera_haze_and_vignette_known_values(haze: float, vignette: float, centre: int, corner: int) -> None:
    fx = replace(CameraEffects.none(), haze=haze, haze_colour=(0.8, 0.8, 0.8), vignette=vignette)
    out = apply_camera(np.full((64, 64, 3), 0.2, np.float32), fx, np.random.default_rng(0))
    assert out.dtype == np.uint8
    assert tuple(out[32, 32]) == (centre,) * 3 and tuple(out[0, 0]) == (corner,) * 3
