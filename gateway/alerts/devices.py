"""The rule engine's view of the device registry: DeviceInfo (rule binding, admissibility) plus the
alert context (jurisdiction, location) each device's alerts carry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from detectors.sensors.admissibility import DeviceInfo, ZoneRef
from detectors.sensors.background import ATTR as BACKGROUND_ATTR
from detectors.sensors.background import ZONE_ATTR as ZONE_BACKGROUND_ATTR
from detectors.sensors.fume_method import FLOW_ATTR, HEADS_ATTR
from detectors.sensors.permits import NightWorkPermit
from gateway.alerts.store import AlertContext
from geo.jurisdiction import UNASSIGNED_CODE
from geo.registry import ZoneRegistry


@dataclass(frozen=True)
class DeviceView:
    info: DeviceInfo
    context: AlertContext


_SQL = """
SELECT id, kind, lon, lat, jurisdiction, zone_ids, legal_review_ref, technical_review_ref, calibration_cert,
       calibration_valid_until, public_notice, attrs
FROM devices WHERE kind IN ('sensor', 'camera')
"""


def load_permits(conn: psycopg.Connection) -> dict[str, list[NightWorkPermit]]:
    """The night-work permit register by zone id (expired ones too: a backlog is judged at its own time)."""
    out: dict[str, list[NightWorkPermit]] = {}
    for zone_id, start, end, body, ref in conn.execute(
            "SELECT zone_id, valid_from, valid_until, issuing_body, reference FROM night_work_permits"):
        out.setdefault(zone_id, []).append(NightWorkPermit(zone_id, start, end, body, ref))
    return out


def load_device_views(conn: psycopg.Connection, zones: ZoneRegistry) -> dict[str, DeviceView]:
    views: dict[str, DeviceView] = {}
    permits = load_permits(conn)
    for (dev_id, kind, lon, lat, jurisdiction, zone_ids, legal, technical, cert, valid_until,
         notice, attrs) in conn.execute(_SQL):
        refs = tuple(ZoneRef(z.id, z.kind) for zid in zone_ids if (z := zones.get(zid)) is not None)
        info = DeviceInfo(
            id=dev_id, kind=kind, zones=refs, legal_review_ref=legal, technical_review_ref=technical,
            calibration_cert=cert, calibration_valid_until=valid_until,
            # art. 41: a device's location must be published; no notice reference means not shown to be.
            location_published=bool(notice),
            extra=method_attrs(attrs or {}, zones, zone_ids),
            permits=tuple(p for ref in refs for p in permits.get(ref.id, ())),
        )
        subject_code = jurisdiction or UNASSIGNED_CODE
        views[dev_id] = DeviceView(info, AlertContext(subject_code, _subject_name(zones, zone_ids, subject_code),
                                                      None, lon, lat))
    return views


# Device attrs the rule methods read (background correction, GB 18483 reference exhaust volume).
METHOD_ATTRS = (BACKGROUND_ATTR, FLOW_ATTR, HEADS_ATTR)


def method_attrs(attrs: dict[str, Any], zones: ZoneRegistry, zone_ids: list[str]) -> dict[str, Any]:
    """The attrs the rule engine's methods use, plus the measured backgrounds of the device's zones (zone
    property `background_db`, used where the device carries none of its own)."""
    extra = {k: attrs[k] for k in METHOD_ATTRS if k in attrs}
    backgrounds = {zid: z.attributes[BACKGROUND_ATTR] for zid in zone_ids
                   if (z := zones.get(zid)) is not None and BACKGROUND_ATTR in z.attributes}
    if backgrounds:
        extra[ZONE_BACKGROUND_ATTR] = backgrounds
    return extra


def _subject_name(zones: ZoneRegistry, zone_ids: list[str], code: str) -> str | None:
    for zid in zone_ids:
        z = zones.get(zid)
        if z is not None and z.enforcement_subject is not None and z.enforcement_subject.code == code:
            return z.enforcement_subject.name
    return None


def enforcement_item(zones: ZoneRegistry, zone_id: str | None) -> str | None:
    """The enforcement item (执法事项 code) of the rule zone the alert fired in, if the zone names one."""
    z = zones.get(zone_id) if zone_id else None
    return z.enforcement_items[0] if z is not None and z.enforcement_items else None
