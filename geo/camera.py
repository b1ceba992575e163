"""Camera and pose inputs to pixel -> ground projection: intrinsics, drone/PTZ pose, error budget, ground model.

Why a module of its own: these are the validated (pydantic) models that callers build from device metadata --
DJI XMP/OSD, PTZ configuration, calibration -- and pass to `geo.projection`; they carry the conventions
(NED attitude, DJI angle meanings, 35 mm-equivalent focal lengths) but no projection math, so a caller that
only builds poses (the no-fly check) does not load it.

Focal lengths in millimetres and 35 mm equivalents are converted against the SENSOR, not the recorded image: a
16:9 photo is a centred crop of a 4:3 sensor, keeping the sensor's full width, so its horizontal field of view is
the sensor's. The image is taken to be the largest centred crop of the sensor with the image's own aspect ratio.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "DEFAULT_SENSOR_ASPECT",
    "FLAT",
    "FULL_FRAME_DIAGONAL_MM",
    "CameraIntrinsics",
    "DronePose",
    "ErrorModel",
    "FlatGround",
    "GroundModel",
    "NoPositionError",
    "sensor_extent_px",
]

# 35 mm full-frame diagonal (36 x 24 mm), used for 35 mm-equivalent focal lengths.
FULL_FRAME_DIAGONAL_MM = 43.2666153
# Aspect (width / height) assumed for a sensor whose size is not known: nearly every DJI still camera is 4:3.
DEFAULT_SENSOR_ASPECT = 4.0 / 3.0
# A position this close to 0,0 (about 1 cm) is a receiver without a fix writing zeros, not a place.
_NULL_ISLAND_DEG = 1e-7


class NoPositionError(ValueError):
    """The pose's position is 0,0: what GNSS receivers without a fix write (DJI XMP, EXIF), never a real place."""


def sensor_extent_px(width: int, height: int, sensor_aspect: float) -> tuple[float, float]:
    """The full sensor's (width, height) in the image's pixels, the image being the sensor's largest centred crop
    with the image's aspect: a 16:9 image of a 4:3 sensor keeps the width, a 1:1 image keeps the height."""
    if width / height >= sensor_aspect:
        return float(width), width / sensor_aspect
    return height * sensor_aspect, float(height)


_FOCALS = ("hfov_deg", "dfov_deg", "focal_px", "f35_mm", "focal_mm")


class CameraIntrinsics(BaseModel):
    """Pinhole intrinsics. Give exactly one of hfov_deg, dfov_deg, focal_px, f35_mm, focal_mm (with
    sensor_width_mm). DFOV is over the image diagonal (as the shared vectors define it); f35_mm and focal_mm are
    converted against the sensor (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(gt=0, description="Image width in pixels.")
    height: int = Field(gt=0, description="Image height in pixels.")
    hfov_deg: float | None = Field(default=None, gt=0, lt=180, description="Horizontal field of view, degrees.")
    dfov_deg: float | None = Field(
        default=None,
        gt=0,
        lt=180,
        description="Diagonal field of view, degrees (DJI spec sheets quote this).",
    )
    focal_px: float | None = Field(default=None, gt=0, description="Focal length fx in pixels (calibration).")
    fy_px: float | None = Field(
        default=None, gt=0, description="Focal length fy in pixels; defaults to fx (square pixels)."
    )
    f35_mm: float | None = Field(
        default=None,
        gt=0,
        description="35 mm-equivalent focal length: the 36x24 mm frame's diagonal against the sensor's diagonal "
        "(sensor aspect from sensor_width_mm/sensor_height_mm, else sensor_aspect).",
    )
    focal_mm: float | None = Field(
        default=None, gt=0, description="True focal length in mm (EXIF FocalLength); needs sensor_width_mm."
    )
    sensor_width_mm: float | None = Field(default=None, gt=0, description="Sensor active-area width, mm.")
    sensor_height_mm: float | None = Field(default=None, gt=0, description="Sensor active-area height, mm.")
    sensor_aspect: float = Field(
        default=DEFAULT_SENSOR_ASPECT,
        gt=0,
        description="Sensor width/height when the sensor size is not given (4:3, nearly every DJI camera).",
    )
    source: str | None = Field(
        default=None, description="Where the focal length came from (e.g. 'calibrated', 'sensor_table:FC300S')."
    )
    cx_px: float | None = Field(default=None, description="Principal point x in pixels; default width/2.")
    cy_px: float | None = Field(default=None, description="Principal point y in pixels; default height/2.")

    @model_validator(mode="after")
    def _one_focal(self) -> CameraIntrinsics:
        given = [n for n in _FOCALS if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(_FOCALS)} (got {given or 'none'})")
        if self.focal_mm is not None and self.sensor_width_mm is None:
            raise ValueError("focal_mm needs sensor_width_mm (a focal length in mm means nothing without the sensor)")
        return self

    @property
    def sensor_aspect_ratio(self) -> float:
        """Sensor width / height: from the sensor size when given, else ``sensor_aspect``."""
        if self.sensor_width_mm is not None and self.sensor_height_mm is not None:
            return self.sensor_width_mm / self.sensor_height_mm
        return self.sensor_aspect

    @property
    def fx(self) -> float:
        """Focal length in pixels along x."""
        if self.focal_px is not None:
            return self.focal_px
        if self.hfov_deg is not None:
            return (self.width / 2.0) / math.tan(math.radians(self.hfov_deg) / 2.0)
        if self.dfov_deg is not None:
            return (math.hypot(self.width, self.height) / 2.0) / math.tan(math.radians(self.dfov_deg) / 2.0)
        if self.focal_mm is not None:
            assert self.sensor_width_mm is not None
            if self.sensor_height_mm is None:  # only the width known: the image spans it
                return self.focal_mm * self.width / self.sensor_width_mm
            sw_px, _ = sensor_extent_px(self.width, self.height, self.sensor_aspect_ratio)
            return self.focal_mm * sw_px / self.sensor_width_mm
        assert self.f35_mm is not None
        # f35 / 43.27 mm = f / sensor diagonal, and the sensor diagonal in pixels is the full sensor's, not the crop's
        sw_px, sh_px = sensor_extent_px(self.width, self.height, self.sensor_aspect_ratio)
        return self.f35_mm * math.hypot(sw_px, sh_px) / FULL_FRAME_DIAGONAL_MM

    @property
    def hfov_deg_effective(self) -> float:
        """Horizontal field of view of the image, degrees (whatever the focal length was given as)."""
        return math.degrees(2.0 * math.atan(self.width / (2.0 * self.fx)))

    @property
    def fy(self) -> float:
        """Focal length in pixels along y."""
        return self.fy_px if self.fy_px is not None else self.fx

    @property
    def cx(self) -> float:
        """Principal point x."""
        return self.width / 2.0 if self.cx_px is None else self.cx_px

    @property
    def cy(self) -> float:
        """Principal point y."""
        return self.height / 2.0 if self.cy_px is None else self.cy_px


class DronePose(BaseModel):
    """Camera position and absolute gimbal attitude (NED, DJI convention)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lat: float = Field(ge=-90, le=90, description="Camera latitude, WGS84 degrees.")
    lon: float = Field(ge=-180, le=180, description="Camera longitude, WGS84 degrees.")
    height_agl_m: float = Field(
        gt=0,
        description="Camera height above the ground plane in metres (DJI RelativeAltitude = above takeoff; "
        "PTZ: mast height).",
    )
    yaw_deg: float = Field(default=0.0, description="Absolute camera yaw, clockwise from north, degrees.")
    pitch_deg: float = Field(default=-90.0, ge=-180, le=180, description="Pitch, 0 horizontal, -90 nadir.")
    roll_deg: float = Field(default=0.0, description="Roll, positive = right side down, degrees.")
    device_id: str | None = Field(default=None, description="Drone or camera id, carried into events.")
    time: datetime | None = Field(default=None, description="Pose timestamp (timezone-aware), if known.")
    yaw_source: str | None = Field(
        default=None,
        description="Provenance of yaw, e.g. 'gimbal/true' or 'flight/magnetic' (DJI is unclear).",
    )
    camera_upside_down: bool = Field(
        default=False,
        description="The image is rotated 180 degrees about the optical axis relative to the attitude (DJI "
        "GimbalReverse or CamReverse: a gimbal mounted upside down, or a camera that flips its image).",
    )

    @model_validator(mode="after")
    def _not_null_island(self) -> DronePose:
        if abs(self.lat) < _NULL_ISLAND_DEG and abs(self.lon) < _NULL_ISLAND_DEG:
            raise NoPositionError(
                f"position {self.lat}, {self.lon} is 0,0: what a receiver without a GNSS fix writes, not a place "
                f"(height {self.height_agl_m} m); refused"
            )
        return self

    @classmethod
    def from_dji(
        cls,
        lat: float,
        lon: float,
        relative_altitude_m: float,
        gimbal_yaw_deg: float,
        gimbal_pitch_deg: float,
        gimbal_roll_deg: float = 0.0,
        *,
        flight_yaw_deg: float | None = None,
        gimbal_yaw_is_relative: bool = False,
        gimbal_reverse: bool = False,
        cam_reverse: bool = False,
        **extra: Any,
    ) -> DronePose:
        """Build from DJI fields. MSDK ``yawRelativeToAircraftHeading`` needs ``flight_yaw_deg`` added.

        ``gimbal_reverse``/``cam_reverse`` are XMP ``GimbalReverse``/``CamReverse``: each turns the image 180 degrees
        about the optical axis; both together cancel (an upside-down gimbal whose camera flips its image back).
        A 0,0 position is refused (:class:`NoPositionError`) whatever the height.
        """
        if abs(lat) < _NULL_ISLAND_DEG and abs(lon) < _NULL_ISLAND_DEG:
            # raised here as itself: from the validator pydantic would wrap it in a ValidationError
            raise NoPositionError(
                f"DJI position {lat}, {lon} is 0,0 (no GNSS fix), whatever RelativeAltitude {relative_altitude_m} m "
                "says; refused"
            )
        yaw = gimbal_yaw_deg
        if gimbal_yaw_is_relative:
            if flight_yaw_deg is None:
                raise ValueError("gimbal yaw relative to the aircraft needs flight_yaw_deg")
            yaw = flight_yaw_deg + gimbal_yaw_deg
        return cls(
            lat=lat,
            lon=lon,
            height_agl_m=relative_altitude_m,
            yaw_deg=yaw % 360.0,
            pitch_deg=gimbal_pitch_deg,
            roll_deg=gimbal_roll_deg,
            camera_upside_down=bool(gimbal_reverse) != bool(cam_reverse),
            **extra,
        )


class ErrorModel(BaseModel):
    """1-sigma pose uncertainties used for the ground error radius (defaults: consumer drone)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sigma_yaw_deg: float = Field(default=2.0, ge=0, description="Yaw uncertainty (compass, gimbal lag), degrees.")
    sigma_pitch_deg: float = Field(default=1.0, ge=0, description="Pitch uncertainty, degrees.")
    sigma_height_m: float = Field(default=2.0, ge=0, description="Height above ground uncertainty, metres.")
    sigma_position_m: float = Field(default=2.0, ge=0, description="GNSS horizontal uncertainty, metres.")
    sigma_refraction_k: float = Field(
        default=0.05,
        ge=0,
        description="Uncertainty of the refraction coefficient (standard 0.13; 0.08-0.18 over a normal day): "
        "moves far points by sigma * d^2 / (2R) / tan(grazing).",
    )


@runtime_checkable
class GroundModel(Protocol):
    """Terrain hook. Heights are metres relative to the plane that ``height_agl_m`` is measured from.

    Must accept floats or numpy arrays (vectorised projection passes arrays).
    """

    def ground_height(self, lat: Any, lon: Any) -> Any: ...


class FlatGround:
    """The default ground model: a horizontal plane (height 0 everywhere)."""

    def ground_height(self, lat: Any, lon: Any) -> Any:
        return np.zeros_like(np.asarray(lat, dtype=float)) if np.ndim(lat) else 0.0


FLAT = FlatGround()
