"""Video detectors: decide when inference runs on a stream's frames, and (later) what it finds.

One module per concept; import each name from the module that defines it:

    detectors.video.motion     MotionConfig, MotionDetector (downscaled running-average motion boxes, recalibration
                               after a whole-frame change, masks)
    detectors.video.alignment  AlignmentConfig, FrameAligner (ORB + RANSAC partial-affine camera-motion estimate
                               for drone video)
    detectors.video.gate       GateConfig, InferenceGate, GateDecision, GateCounters (per-frame infer or skip, with
                               the reason)
"""
