"""Video and photo sources: timed frames with a known pose, handed to the detection stage.

One module per concept; import each name from the module that defines it:

    ingest.video.config        `video:` config section (streams, ZLMediaKit, DJI live, reconnect, pose pairing)
    ingest.video.frames        Frame (image, capture time and its source, pose) and the FrameSink protocol
    ingest.video.state         stream states and the status record `streams list` and the API show
    ingest.video.pyav_source   RTSP/RTMP/HTTP-FLV/HLS/file reader on PyAV (FFmpeg), PTS anchored to the wall clock
    ingest.video.mjpeg_source  HTTP MJPEG (multipart/x-mixed-replace) reader
    ingest.video.sampling      down-sampling a source to the target fps without a backlog
    ingest.video.backoff       reconnect delays: exponential to a ceiling, with jitter
    ingest.video.metrics       the stream metrics (state, frames by outcome, reconnects, decode time, lag)
    ingest.video.urls          stream URLs with any password masked
    ingest.video.stream_worker one stream's worker: connect, read, sample, reconnect with back-off and jitter
    ingest.video.zlmediakit    ZLMediaKit HTTP API client (addStreamProxy / delStreamProxy)
    ingest.video.pose_pairing  a frame's pose at its capture time, interpolated, refused beyond a gap
"""
