"""The inference gate over generated streams: counts per reason, rechecks, recalibration, modes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest
from pydantic import ValidationError

from detectors.video.gate import GateConfig, GateCounters, GateReason, InferenceGate
from testkit import motion_scenes as ms


def _reasons(gate: InferenceGate, scene: ms.Scene, active: list[int] | None = None) -> list[GateReason]:
    return [gate.decide(f.image, f.time, active[i] if active else 0).reason for i, f in enumerate(scene.frames)]


def test_static_stream_infers_only_first_frame_and_rechecks() -> None:
    scene = ms.static_scene(n=300, fps=5.0, width=320, height=180)
    gate = InferenceGate(GateConfig(recheck_interval_s=10.0))
    reasons = _reasons(gate, scene)
    c = gate.counters
    assert reasons[0] == GateReason.FIRST_FRAME
    # 60 s of video: a recheck at 10, 20, 30, 40 and 50 s (frames 50, 100, ...).
    assert [i for i, r in enumerate(reasons) if r == GateReason.RECHECK] == [50, 100, 150, 200, 250]
    assert (c.frames_seen, c.inferred, c.skipped, c.no_motion, c.motion) == (300, 6, 294, 294, 0)
    assert c.inferred / c.frames_seen <= 0.10


def test_busy_stream_infers_on_motion() -> None:
    scene = ms.busy_scene(n=30)
    gate = InferenceGate(GateConfig())
    reasons = _reasons(gate, scene)
    assert reasons[0] == GateReason.FIRST_FRAME
    assert reasons[1:] == [GateReason.MOTION] * 29
    assert gate.counters.motion == 29 and gate.counters.skipped == 0


def test_active_tracks_keep_inference_running_without_motion() -> None:
    scene = ms.static_scene(n=20, width=320, height=180)
    active = [1] * 10 + [0] * 10
    reasons = _reasons(InferenceGate(GateConfig(recheck_interval_s=100.0)), scene, active)
    assert reasons[1:10] == [GateReason.ACTIVE_TRACKS] * 9
    assert reasons[10:] == [GateReason.NO_MOTION] * 10


@pytest.mark.parametrize(("after_recal", "expected_21"), [(True, GateReason.RECHECK), (False, GateReason.NO_MOTION)])
def test_lighting_change_is_recalibrating_not_a_burst(after_recal: bool, expected_21: GateReason) -> None:
    scene = ms.lighting_scene(n=40, change_at=20)
    gate = InferenceGate(GateConfig(recheck_interval_s=100.0, recheck_after_recalibration=after_recal))
    decisions = [gate.decide(f.image, f.time) for f in scene.frames]
    assert decisions[20].reason == GateReason.RECALIBRATING and not decisions[20].infer
    assert decisions[20].detail == "whole_frame_change"
    assert decisions[21].reason == expected_21
    assert all(d.reason == GateReason.NO_MOTION for d in decisions[22:])
    assert gate.counters.recalibrating == 1


def test_aligned_mode_on_a_panning_drone() -> None:
    static = ms.panning_scene(n=30)
    gate = InferenceGate(GateConfig(mode="aligned", recheck_interval_s=100.0))
    reasons = _reasons(gate, static)
    assert reasons.count(GateReason.MOTION) <= 3 and gate.counters.alignment_failures == 0

    moving = ms.panning_scene(n=30, mover=True)
    gate = InferenceGate(GateConfig(mode="aligned", recheck_interval_s=100.0))
    reasons = _reasons(gate, moving)
    assert reasons[1:] == [GateReason.MOTION] * 29


def test_motion_mode_on_a_panning_drone_never_reports_no_motion() -> None:
    reasons = _reasons(InferenceGate(GateConfig(mode="motion")), ms.panning_scene(n=20))
    assert GateReason.NO_MOTION not in reasons[1:]


def test_aligned_mode_fills_drone_defaults_but_keeps_what_is_set() -> None:
    cfg = GateConfig(mode="aligned", motion={"frame_alpha": 0.5})
    assert cfg.motion.frame_alpha == 0.5 and cfg.motion.improve_contrast is False
    assert GateConfig(mode="motion").motion.improve_contrast is True


def test_off_mode_infers_every_frame_with_its_reason() -> None:
    scene = ms.static_scene(n=10, width=160, height=90)
    gate = InferenceGate(GateConfig(mode="off", off_reason="thermal camera: constant scintillation"))
    decisions = [gate.decide(f.image, f.time) for f in scene.frames]
    assert all(d.infer and d.reason == GateReason.GATE_OFF for d in decisions)
    assert {d.detail for d in decisions} == {"thermal camera: constant scintillation"}
    assert (gate.counters.inferred, gate.counters.gate_off) == (10, 10)


@pytest.mark.parametrize("kwargs", [{"mode": "off"}, {"mode": "off", "off_reason": "  "}, {"mode": "sometimes"},
                                    {"recheck_interval_s": 0}, {"motion_threshold": 3}])
def test_gate_config_refuses(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        GateConfig(**kwargs)


def test_invalid_frame_is_skipped_with_its_reason() -> None:
    scene = ms.static_scene(n=2, width=160, height=90)
    gate = InferenceGate(GateConfig())
    bad = replace(scene.frames[0], image=np.zeros((10, 10), dtype=np.float64))
    d = gate.decide(bad.image, bad.time)
    assert (d.infer, d.reason) == (False, GateReason.INVALID_FRAME) and "float64" in (d.detail or "")
    assert gate.decide(scene.frames[1].image, scene.frames[1].time).reason == GateReason.FIRST_FRAME
    assert gate.counters.invalid_frame == 1


def test_clock_going_back_does_not_trigger_rechecks() -> None:
    scene = ms.static_scene(n=6, width=160, height=90)
    gate = InferenceGate(GateConfig(recheck_interval_s=10.0))
    gate.decide(scene.frames[0].image, scene.frames[0].time)
    back = [replace(f, time=f.time - timedelta(hours=1)) for f in scene.frames[1:]]
    assert [gate.decide(f.image, f.time).reason for f in back] == [GateReason.NO_MOTION] * 5


def test_reset_makes_the_next_frame_a_first_frame_and_keeps_counters() -> None:
    scene = ms.static_scene(n=3, width=160, height=90)
    gate = InferenceGate(GateConfig())
    gate.decide(scene.frames[0].image, scene.frames[0].time)
    gate.decide(scene.frames[1].image, scene.frames[1].time)
    gate.reset()
    assert gate.decide(scene.frames[2].image, scene.frames[2].time).reason == GateReason.FIRST_FRAME
    assert gate.counters.frames_seen == 3 and gate.counters.first_frame == 2


def test_counters_as_dict_names_every_reason() -> None:
    names = set(GateCounters().as_dict())
    assert {r.value for r in GateReason} <= names
    assert {"frames_seen", "inferred", "skipped", "alignment_failures"} <= names
