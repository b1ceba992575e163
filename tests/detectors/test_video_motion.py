"""Motion detection and frame alignment on generated scenes (testkit.motion_scenes)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from detectors.video.alignment import AlignmentConfig, FrameAligner, rescale_affine
from detectors.video.gate import ALIGNED_MOTION_DEFAULTS
from detectors.video.motion import MotionConfig, MotionDetector, MotionResult, boxes_to_full
from testkit import motion_scenes as ms


def _run(scene: ms.Scene, detector: MotionDetector) -> list[MotionResult]:
    return [detector.detect(f.image) for f in scene.frames]


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _aligned_detector(**motion: object) -> MotionDetector:
    return MotionDetector(MotionConfig(**{**ALIGNED_MOTION_DEFAULTS, **motion}), FrameAligner(AlignmentConfig()))


def test_static_scene_has_no_motion_after_the_first_frame() -> None:
    results = _run(ms.static_scene(n=100, width=320, height=180), MotionDetector(MotionConfig()))
    assert results[0].recalibrated and results[0].cause == "first_frame"
    assert [i for i, r in enumerate(results[1:], 1) if r.boxes or r.recalibrated] == []


@pytest.mark.parametrize("improve_contrast", [True, False])
def test_moving_block_boxes_overlap_the_mover(improve_contrast: bool) -> None:
    scene = ms.busy_scene(n=30)
    results = _run(scene, MotionDetector(MotionConfig(improve_contrast=improve_contrast)))
    for i in range(2, 30):
        mover = scene.movers[i]
        assert mover is not None
        assert results[i].motion, i
        assert any(_overlaps(b, mover) for b in results[i].boxes), (i, results[i].boxes, mover)
        # The mover is a small share of the frame: nowhere near a recalibration.
        assert results[i].changed_fraction < 0.2


def test_whole_frame_lighting_change_recalibrates_instead_of_motion() -> None:
    scene = ms.lighting_scene(n=40, change_at=20)
    results = _run(scene, MotionDetector(MotionConfig()))
    assert results[20].recalibrated and results[20].cause == "whole_frame_change"
    assert results[20].changed_fraction > 0.8 and results[20].boxes == ()
    assert [i for i, r in enumerate(results[1:], 1) if r.motion or (r.recalibrated and i != 20)] == []


def test_panning_camera_without_alignment_changes_everywhere() -> None:
    results = _run(ms.panning_scene(n=20), MotionDetector(MotionConfig()))
    # Every frame is either a recalibration (the whole view changed) or motion over a large share of it.
    assert all(r.recalibrated or r.changed_fraction > 0.3 for r in results[1:])


def test_panning_camera_with_alignment_shows_almost_no_motion() -> None:
    results = _run(ms.panning_scene(n=30), _aligned_detector())
    assert all(r.alignment is not None and r.alignment.ok for r in results[1:])
    assert not any(r.recalibrated for r in results[1:])
    assert max(r.changed_fraction for r in results[1:]) < 0.01
    assert sum(r.motion for r in results[1:]) <= 3


def test_mover_on_a_panning_scene_is_found_with_alignment() -> None:
    scene = ms.panning_scene(n=30, mover=True)
    results = _run(scene, _aligned_detector())
    checked = [i for i in range(2, 30) if scene.movers[i] is not None]
    assert len(checked) >= 20
    for i in checked:
        assert any(_overlaps(b, scene.movers[i]) for b in results[i].boxes), (i, results[i].boxes)
        assert results[i].changed_fraction < 0.1


def test_alignment_recovers_the_pan() -> None:
    scene = ms.panning_scene(n=4, pan_px=(9, 3))
    aligner = FrameAligner(AlignmentConfig())
    first = aligner.update(scene.frames[0].image)
    assert not first.ok and first.reason == "first_frame"
    for frame in scene.frames[1:]:
        a = aligner.update(frame.image)
        assert a.ok and a.matrix is not None and a.inliers >= 15
        assert a.matrix[:, :2] == pytest.approx(np.eye(2), abs=0.01)
        assert a.matrix[:, 2] == pytest.approx([-9.0, -3.0], abs=0.5)


def test_featureless_frames_fail_alignment_and_restart_the_background() -> None:
    detector = _aligned_detector()
    flat = np.full((120, 160, 3), 128, dtype=np.uint8)
    assert detector.detect(flat).cause == "first_frame"
    result = detector.detect(flat)
    assert result.recalibrated and result.cause == "alignment_failed"
    assert result.alignment is not None and result.alignment.reason == "too_few_features"


def test_mask_hides_motion_inside_it() -> None:
    scene = ms.busy_scene(n=30)
    # The mover's whole path (y 165-195) lies inside this band.
    band = [(0.0, 140.0), (640.0, 140.0), (640.0, 220.0), (0.0, 220.0)]
    results = _run(scene, MotionDetector(MotionConfig(masks=[band])))
    assert not any(r.motion for r in results)
    assert max(r.changed_fraction for r in results) == 0.0


def test_frame_size_change_restarts_the_background() -> None:
    detector = MotionDetector(MotionConfig())
    detector.detect(np.zeros((90, 160, 3), dtype=np.uint8))
    result = detector.detect(np.zeros((180, 320, 3), dtype=np.uint8))
    assert result.recalibrated and result.cause == "frame_size"


@pytest.mark.parametrize(("field", "value"), [
    ("blur_size", 4), ("threshold", 0), ("lightning_threshold", 1.5), ("frame_height", 8),
    ("masks", [[(0, 0), (1, 1)]]), ("sensitivity", 3),
])
def test_config_refuses(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        MotionConfig(**{field: value})


@pytest.mark.parametrize(("rects", "full", "small", "expected"), [
    ([(0, 0, 10, 10)], (640, 360), (178, 100), ((0, 0, 36, 36),)),
    ([(170, 95, 8, 5)], (640, 360), (178, 100), ((611, 342, 640, 360),)),
    ([(3, 4, 5, 6)], (100, 50), (100, 50), ((3, 4, 8, 10),)),
])
def test_boxes_to_full(rects: list[tuple[int, int, int, int]], full: tuple[int, int], small: tuple[int, int],
                       expected: tuple[tuple[int, int, int, int], ...]) -> None:
    assert boxes_to_full(rects, full, small) == expected


def test_rescale_affine_keeps_the_motion() -> None:
    m = np.array([[1.0, 0.0, -9.0], [0.0, 1.0, -3.0]])
    assert rescale_affine(m, 0.5, 0.5)[:, 2] == pytest.approx([-4.5, -1.5])


_images = st.tuples(st.integers(1, 48), st.integers(1, 48), st.sampled_from([None, 1, 3, 4]), st.integers(0, 2**32 - 1))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=_images, second=_images, aligned=st.booleans())
def test_any_valid_image_never_raises(first: tuple[int, int, int | None, int], second: tuple[int, int, int | None, int],
                                      aligned: bool) -> None:
    detector = _aligned_detector() if aligned else MotionDetector(MotionConfig(masks=[[(0, 0), (5, 0), (0, 5)]]))
    for h, w, c, seed in (first, second, first):
        shape = (h, w) if c is None else (h, w, c)
        image = np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)
        result = detector.detect(image)
        assert 0.0 <= result.changed_fraction <= 1.0
        assert all(0 <= b[0] < b[2] <= w and 0 <= b[1] < b[3] <= h for b in result.boxes)


@pytest.mark.parametrize("image", [
    np.zeros((10, 10, 3), dtype=np.float32), np.zeros((10, 10, 2), dtype=np.uint8), np.zeros((0, 10, 3), np.uint8),
    np.zeros((2, 2, 2, 2), dtype=np.uint8), [[1, 2], [3, 4]],
])
def test_invalid_images_are_refused_with_value_error(image: object) -> None:
    with pytest.raises(ValueError):
        MotionDetector(MotionConfig()).detect(image)  # type: ignore[arg-type]
