"""Video detectors: when inference runs on a stream's frames, which tracked objects break which zone's rule, and
the synthetic scenes the shipped model is trained on. The image and its time come in as plain values: detectors
import nothing of ingest or geo (tests/test_layering.py).

One module per concept; import each name from the module that defines it:

    detectors.video.motion     MotionConfig, MotionDetector (downscaled running-average motion boxes, recalibration
                               after a whole-frame change, masks)
    detectors.video.alignment  AlignmentConfig, FrameAligner (ORB + RANSAC partial-affine camera-motion estimate
                               for drone video)
    detectors.video.gate       GateConfig, InferenceGate, GateDecision, GateCounters (per-frame infer or skip, with
                               the reason)
    detectors.video.tracks       TrackedObject, Box and their checks (the rules' input, one per track per frame)
    detectors.video.image_zones  image-space zones: bottom-centre anchor, minimum area, inertia (ZoneMembership)
    detectors.video.violations   ViolationEngine: parking, vending, boat, burning and dumping rules per zone
    detectors.video.video_alerts VideoAlerts: one alert per (rule, zone, subject): open, update, end
    detectors.video.synthetic    generated aerial and street scenes with labels (YOLO dataset writer)
"""
