"""The gateway's video side: stream workers under supervision, the frame stage detection reads from, the stream
status others read. Import each name from its module:

    gateway.video.frame_stage   FrameStage: per-stream bounded queues, never blocking a reader; latest frames
    gateway.video.live_poses    LivePoses: each drone's recent MQTT poses, for pairing its live frames
    gateway.video.status_store  stream status rows (`stream_status`), written by the gateway, read by CLI and API
    gateway.video.service       VideoService: ZLMediaKit proxies, DJI live pushes, one worker per stream
"""
