"""Device events: the parsed records of a message that the store keeps as `device_events` rows.

Why a module of its own: the router's records are typed per protocol (`DeviceStatus`, `DjiEvent`,
`DjiTopology`, ...); the store wants one shape (time, device, kind, JSON payload) plus what the record says
about online state. This is the one place that decides which records are kept and how they map.

    DeviceStatus (enf/device/{id}/status)     kind "status"    online = the status
    DjiEvent (thing/product/{gw}/events)      kind "event"     payload: method, data, tid, bid, need_reply
    DjiTopology (sys/product/{gw}/status)     kind "topology"  the gateway is online; `attached` lists the
                                                               sub-devices now attached (an empty list means
                                                               the aircraft went offline)

Not kept: `DjiDeviceState` (osd/state pushes, up to 10 Hz; their poses are stored) and `DjiDrcRecord`
(drc/up obstacle and delay pushes, at DRC rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ingest.dji.events import DjiEvent
from ingest.dji.state import DjiTopology
from ingest.router import DeviceStatus, ParsedMessage

__all__ = ["EVENT_KINDS", "DeviceEvent", "device_events"]

EVENT_KINDS = ("status", "event", "topology")


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    time: datetime  # the device's time when it gave one, else the gateway's receipt
    device_id: str
    kind: str  # one of EVENT_KINDS
    payload: dict[str, Any]  # JSON-ready: the parsers refused non-finite numbers, NUL and lone surrogates
    received_at: datetime | None = None
    online: bool | None = None  # what this event says about `device_id`'s own online state
    attached: tuple[str, ...] | None = None  # topology only: the sub-devices attached to `device_id` now


def _status(r: DeviceStatus) -> DeviceEvent:
    payload = {"status": "online" if r.online else "offline", "time_source": r.time_source}
    return DeviceEvent(r.time, r.device_id, "status", payload, r.received_at, online=r.online)


def _event(r: DjiEvent) -> DeviceEvent:
    payload = {"method": r.method, "data": r.data, "tid": r.tid, "bid": r.bid, "need_reply": r.need_reply}
    return DeviceEvent(r.time, r.gateway_sn, "event", payload, r.received_at)


def _topology(r: DjiTopology) -> DeviceEvent:
    subs = [{"sn": s.sn, "domain": s.domain, "type": s.type, "sub_type": s.sub_type, "index": s.index,
             "thing_version": s.thing_version} for s in r.sub_devices]
    payload = {"domain": r.domain, "type": r.type, "sub_type": r.sub_type, "thing_version": r.thing_version,
               "sub_devices": subs}
    return DeviceEvent(r.time, r.gateway_sn, "topology", payload, r.received_at, online=True,
                       attached=tuple(s.sn for s in r.sub_devices))


def device_events(msg: ParsedMessage) -> list[DeviceEvent]:
    """The records of `msg` that are kept, as events (usually none: readings and poses are not events)."""
    if not msg.records:
        return []
    out: list[DeviceEvent] = []
    for r in msg.records:
        t = type(r)
        if t is DeviceStatus:
            out.append(_status(r))
        elif t is DjiEvent:
            out.append(_event(r))
        elif t is DjiTopology:
            out.append(_topology(r))
    return out
