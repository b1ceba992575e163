"""DJI Cloud API adapter (dock / Pilot 2 to cloud over MQTT): the public entry point, re-exporting its parts.

Why this module: the router, the gateway and the tests import the adapter as `ingest.dji`; the implementation
is split by concept so each part stays small:

    ingest.dji_envelope  envelope `{tid, bid, timestamp, gateway, data}` decoding and timestamp checks
    ingest.dji_osd       osd/state -> Pose mapping, primary payload/gimbal selection
    ingest.dji_state     DockStateMerger (partial state merging, gateway -> aircraft SN) and the device state
                         and topology records
    ingest.dji_events    drc/up, events and status (topology) messages published under the gateway SN

Topics handled (the router resolves them; `{sn}` is the device's own SN for osd/state, else the gateway SN):

    thing/product/{sn}/osd | /state   parse_dji_osd     -> DjiOsdResult(pose | None, state record)
    thing/product/{gw}/drc/up         parse_dji_drc     -> Pose (osd_info_push) or DjiDrcRecord (others)
    thing/product/{gw}/events         parse_dji_event   -> DjiEvent
    sys/product/{gw}/status           parse_dji_status  -> DjiTopology (method update_topo)

Failure reason codes, in addition to those of `ingest.decode`: `unsupported_method`, `bad_device_id`.
"""

from __future__ import annotations

from ingest.dji_envelope import DjiEnvelope, parse_dji_envelope
from ingest.dji_events import DjiDrcRecord, DjiEvent, parse_dji_drc, parse_dji_event, parse_dji_status
from ingest.dji_osd import PAYLOAD_KEY_RE, DjiOsdResult, parse_dji_osd
from ingest.dji_state import DjiDeviceState, DjiSubDevice, DjiTopology, DockStateMerger

__all__ = [
    "PAYLOAD_KEY_RE",
    "DjiDeviceState",
    "DjiDrcRecord",
    "DjiEnvelope",
    "DjiEvent",
    "DjiOsdResult",
    "DjiSubDevice",
    "DjiTopology",
    "DockStateMerger",
    "parse_dji_drc",
    "parse_dji_envelope",
    "parse_dji_event",
    "parse_dji_osd",
    "parse_dji_status",
]
