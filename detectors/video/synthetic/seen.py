"""A generated view in which a detector sees a kind: the demo's patrol video and the tests that play a scene
through the pipeline pick their pictures this way, so they show what the shipped model can find."""

from __future__ import annotations

import numpy as np

from detectors.video.detector import Detector
from detectors.video.synthetic.classes import CLASS_IDS
from detectors.video.synthetic.dataset import render_frame
from detectors.video.synthetic.scene import RenderOptions
from detectors.video.tracks import Box, box_iou

UNSEEN_SEED = 5150  # no training run drew from it


def scene_seen(detector: Detector, kind: str, *, tries: int = 30, min_score: float = 0.5,
               seed: int = UNSEEN_SEED) -> np.ndarray | None:
    """The first generated nadir view of `seed` in which `detector` finds a labelled object of `kind` (IoU 0.5,
    score `min_score`), or None within `tries` frames."""
    nadir = RenderOptions(oblique_probability=0.0)
    for i in range(tries):
        scene = render_frame(seed, i, 640, 1.0, nadir)
        labelled = [Box(*map(float, o.box)) for o in scene.objects if o.class_id == CLASS_IDS[kind]]
        if labelled and any(d.kind == kind and d.score >= min_score and any(box_iou(d.box, b) >= 0.5
                                                                             for b in labelled)
                            for d in detector.detect(scene.image)):
            return scene.image
    return None
