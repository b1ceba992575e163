"""Camera and pose inputs to pixel -> ground projection: intrinsics, drone/PTZ pose, error budget, ground model.

Why a module of its own: these are the validated (pydantic) models that callers build from device metadata --
DJI XMP/OSD, PTZ configuration, calibration -- and pass to `geo.projection`; they carry the conventions
(NED attitude, DJI angle meanings, 35 mm-equivalent focal lengths) but no projection math, so a caller that
only builds poses (the no-fly check) does not load it.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "FLAT",
    "FULL_FRAME_DIAGONAL_MM",
    "CameraIntrinsics",
    "DronePose",
    "ErrorModel",
    "FlatGround",
    "GroundModel",
]

# 35 mm full-frame diagonal (36 x 24 mm), used for 35 mm-equivalent focal lengths.
FULL_FRAME_DIAGONAL_MM = 43.2666153


class CameraIntrinsics(BaseModel):
    """Pinhole intrinsics. Give exactly one of hfov_deg, dfov_deg, focal_px, f35_mm."""

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
        default=None, gt=0, description="35 mm-equivalent focal length; converted through the diagonal FOV."
    )
    cx_px: float | None = Field(default=None, description="Principal point x in pixels; default width/2.")
    cy_px: float | None = Field(default=None, description="Principal point y in pixels; default height/2.")

    @model_validator(mode="after")
    def _one_focal(self) -> CameraIntrinsics:
        given = [n for n in ("hfov_deg", "dfov_deg", "focal_px", "f35_mm") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of hfov_deg, dfov_deg, focal_px, f35_mm (got {given or 'none'})")
        return self

    @property
    def fx(self) -> float:
        """Focal length in pixels along x."""
        if self.focal_px is not None:
            return self.focal_px
        if self.hfov_deg is not None:
            return (self.width / 2.0) / math.tan(math.radians(self.hfov_deg) / 2.0)
        dfov = self.dfov_deg
        if dfov is None:
            assert self.f35_mm is not None
            dfov = math.degrees(2.0 * math.atan(FULL_FRAME_DIAGONAL_MM / (2.0 * self.f35_mm)))
        return (math.hypot(self.width, self.height) / 2.0) / math.tan(math.radians(dfov) / 2.0)

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
        **extra: Any,
    ) -> DronePose:
        """Build from DJI fields. MSDK ``yawRelativeToAircraftHeading`` needs ``flight_yaw_deg`` added."""
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
            **extra,
        )


class ErrorModel(BaseModel):
    """1-sigma pose uncertainties used for the ground error radius (defaults: consumer drone)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sigma_yaw_deg: float = Field(default=2.0, ge=0, description="Yaw uncertainty (compass, gimbal lag), degrees.")
    sigma_pitch_deg: float = Field(default=1.0, ge=0, description="Pitch uncertainty, degrees.")
    sigma_height_m: float = Field(default=2.0, ge=0, description="Height above ground uncertainty, metres.")
    sigma_position_m: float = Field(default=2.0, ge=0, description="GNSS horizontal uncertainty, metres.")


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
