"""Pure geo package: zones (GeoJSON, schedules), STRtree registry, fence events, pixel -> ground
projection, WGS84/GCJ-02/BD-09 conversion, jurisdiction routing and no-fly checks.

No database and no network: the store and CLI call :mod:`geo.geojson_io` and :class:`geo.registry.ZoneRegistry`.
"""

from geo.crs import Crs, bd09_to_wgs84, convert, gcj02_to_wgs84, wgs84_to_bd09, wgs84_to_gcj02
from geo.fences import FenceConfig, FenceEvent, FenceTracker
from geo.geojson_io import LoadResult, dump_zones, load_datav, load_zones
from geo.jurisdiction import JurisdictionResult, resolve, resolve_many
from geo.nofly import NoFlyEvent, check_no_fly
from geo.projection import (
    AboveHorizonError,
    CameraIntrinsics,
    DronePose,
    ProjectionError,
    project_box,
    project_pixel,
    project_pixels,
)
from geo.registry import ZoneRegistry
from geo.schedule import Schedule
from geo.zones import EnforcementSubject, Fix, Problem, Zone

__all__ = [
    "AboveHorizonError",
    "CameraIntrinsics",
    "Crs",
    "DronePose",
    "EnforcementSubject",
    "FenceConfig",
    "FenceEvent",
    "FenceTracker",
    "Fix",
    "JurisdictionResult",
    "LoadResult",
    "NoFlyEvent",
    "Problem",
    "ProjectionError",
    "Schedule",
    "Zone",
    "ZoneRegistry",
    "bd09_to_wgs84",
    "check_no_fly",
    "convert",
    "dump_zones",
    "gcj02_to_wgs84",
    "load_datav",
    "load_zones",
    "project_box",
    "project_pixel",
    "project_pixels",
    "resolve",
    "resolve_many",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]
