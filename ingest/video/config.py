"""The `video:` section: stream sources, the optional ZLMediaKit in front, DJI dock live video, reconnect
back-off and pose pairing. Every model forbids unknown keys, so a typo names the field."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "file")
_STREAM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReconnectConfig(_Section):
    initial_s: float = Field(default=1.0, gt=0, description="First delay before reconnecting a dropped stream.")
    max_s: float = Field(default=30.0, gt=0, description="Longest delay between reconnect attempts.")
    multiplier: float = Field(default=2.0, ge=1.0, description="Growth of the delay per failed attempt.")
    jitter: float = Field(default=0.5, ge=0.0, le=1.0,
                          description="Fraction of each delay drawn at random, so streams do not reconnect in step.")
    failed_after: int = Field(default=5, ge=1,
                              description="Consecutive failed attempts after which the stream shows `failed` "
                              "(it keeps retrying at max_s).")


class DjiLiveConfig(_Section):
    """A DJI dock camera told to push its live video (Cloud API `live_start_push`) before the stream is read."""

    gateway_sn: str = Field(description="The dock's SN: the command goes to thing/product/{gateway_sn}/services.")
    sn: str = Field(description="The SN of the device whose camera pushes (the aircraft or the dock itself).")
    camera_index: str = Field(description="Payload index of the camera, e.g. 39-0-7 or 165-0-7.")
    video_index: str = Field(default="normal-0", description="Video index of the camera's stream.")
    url_type: Literal["rtmp", "rtsp", "gb28181"] = Field(
        default="rtmp", description="How the dock pushes: rtmp (url_type 1), rtsp (2; in DJI's demo code, not in the "
        "Dock 2/3 pages) or gb28181 (3).")
    url: str = Field(description="The push URL sent to the dock (rtmp://.../live/x, or the GB28181 "
                     "serverIP&serverPort&serverID&agentID&agentPassword&localPort&channel string).")
    quality: int = Field(default=0, ge=0, le=4, description="video_quality: 0 adaptive, 1 smooth ... 4 ultra HD.")
    reply_timeout_s: float = Field(default=10.0, gt=0, description="How long to wait for services_reply.")


class StreamConfig(_Section):
    id: str = Field(description="Stream id: letters, digits, . _ -; names the stream in metrics and the API.")
    url: str = Field(description="rtsp(s)://, rtmp(s)://, http(s)://...flv (HTTP-FLV), ....m3u8 (HLS), HTTP MJPEG, "
                     "or file:// / a local path.")
    device_id: str = Field(description="The registered device that films (a camera, or the drone for poses).")
    camera: Literal["fixed", "drone"] = Field(
        default="fixed", description="fixed: image-space zones; drone: frames paired with the device's poses.")
    fps: float = Field(default=5.0, gt=0, le=60, description="Target frames per second handed to detection.")
    enabled: bool = Field(default=True, description="False keeps the stream configured but not read.")
    rtsp_transport: Literal["tcp", "udp"] | None = Field(
        default=None, description="RTSP transport for this stream; default video.rtsp_transport.")
    via_zlmediakit: bool = Field(
        default=False, description="Pull through video.zlmediakit (addStreamProxy) and read its RTSP re-stream.")
    open_timeout_s: float = Field(default=10.0, gt=0, description="Connect and first-frame timeout.")
    stall_after_s: float = Field(default=5.0, gt=0, description="No frame for this long: `stalled`, reconnect.")
    live: DjiLiveConfig | None = Field(default=None, description="DJI dock live video to start before reading.")
    detectors: list[str] = Field(default_factory=list, description="Detectors run on this stream's frames.")
    zones: list[str] = Field(default_factory=list, description="Zone ids whose rules apply to this stream.")

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _STREAM_ID.fullmatch(v):
            raise ValueError("letters, digits, '.', '_' and '-' only, at most 64, starting with a letter or digit")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        scheme = urlsplit(v).scheme.lower()
        if scheme and len(scheme) > 1 and scheme not in STREAM_SCHEMES:
            raise ValueError(f"unsupported scheme {scheme!r}; use one of {', '.join(STREAM_SCHEMES)} or a local path")
        return v


class ZlmConfig(_Section):
    base_url: str = Field(description="ZLMediaKit HTTP API base, e.g. http://127.0.0.1:8080.")
    secret: str = Field(default="", description="api.secret of ZLMediaKit's config.ini (sent with every call; "
                        "ZLMediaKit also admits its IP whitelist without it).")
    vhost: str = Field(default="__defaultVhost__", description="Virtual host the proxies are added under.")
    app: str = Field(default="enforcegw", description="ZLMediaKit app name the proxied streams get.")
    rtsp_url: str = Field(default="", description="Base of ZLMediaKit's RTSP re-streams, e.g. rtsp://127.0.0.1:554; "
                          "default: the API host on port 554.")
    timeout_s: float = Field(default=10.0, gt=0, description="HTTP timeout of each API call.")
    retry_count: int = Field(default=-1, description="addStreamProxy retry_count (-1: ZLMediaKit retries forever).")


class PosePairingConfig(_Section):
    max_gap_s: float = Field(default=1.0, gt=0,
                             description="A frame further than this from the nearest pose sample is unplaced.")
    history_s: float = Field(default=120.0, gt=0, description="Pose history kept per drone for pairing live frames.")


class VideoConfig(_Section):
    streams: list[StreamConfig] = Field(default_factory=list, description="Live and file sources.")
    rtsp_transport: Literal["tcp", "udp"] = Field(default="tcp", description="Default RTSP transport.")
    reconnect: ReconnectConfig = Field(default_factory=ReconnectConfig, description="Reconnect back-off.")
    zlmediakit: ZlmConfig | None = Field(default=None, description="Optional media server in front of the streams.")
    pose: PosePairingConfig = Field(default_factory=PosePairingConfig, description="Pairing drone frames with poses.")
    frame_queue: int = Field(default=8, ge=1, description="Frames per stream waiting for detection; more are dropped "
                             "oldest first (counted), so a slow detector never builds a backlog.")

    @model_validator(mode="after")
    def _unique_ids(self) -> VideoConfig:
        seen: set[str] = set()
        for s in self.streams:
            if s.id in seen:
                raise ValueError(f"stream id {s.id!r} appears twice")
            seen.add(s.id)
        if self.zlmediakit is None and any(s.via_zlmediakit for s in self.streams):
            raise ValueError("a stream has via_zlmediakit: true but video.zlmediakit is not configured")
        return self
