"""Per-device DJI state: the osd/state status record, the gateway topology, and the merger that rebuilds full
state from partial pushes.

Why a module of its own: a dock publishes its properties as several partial messages, and DRC poses arrive
under the gateway SN; `DockStateMerger` is the one stateful piece of the DJI adapter (thread-safe, bounded) that
both the OSD parser (`ingest.dji.osd`) and the DRC/topology parsers (`ingest.dji.events`) feed and consult. The
records it is built from (`DjiDeviceState`, `DjiTopology`) live here with it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["DjiDeviceState", "DjiSubDevice", "DjiTopology", "DockStateMerger"]


@dataclass(frozen=True, slots=True)
class DjiDeviceState:
    """An osd/state message as a status record: always produced, with or without a pose.

    `data` is this message's (possibly partial) property set; `merged` is the latest full state of the device
    after merging this message, when a `DockStateMerger` was supplied.
    """

    device_id: str
    time: datetime
    kind: str  # "osd" | "state"
    role: str  # "aircraft" | "gateway" (dock or RC: topic SN == envelope gateway)
    data: dict
    gateway_sn: str | None = None
    merged: dict | None = None
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DjiSubDevice:
    sn: str
    domain: str | None = None
    type: int | None = None
    sub_type: int | None = None
    index: str | None = None
    thing_version: str | None = None


@dataclass(frozen=True, slots=True)
class DjiTopology:
    """`update_topo` on sys/product/{gw}/status. `device_secret`/`nonce` are credentials and are dropped."""

    gateway_sn: str
    time: datetime
    domain: str | None
    type: int | None
    sub_type: int | None
    thing_version: str | None
    sub_devices: tuple[DjiSubDevice, ...] = ()
    received_at: datetime | None = None


# ----------------------------------------------------------------------------------------------------
# state merging


@dataclass(slots=True)
class _DeviceEntry:
    state: dict = field(default_factory=dict)
    updated: dict = field(default_factory=dict)  # top-level key -> time of the message that last set it
    last_time: datetime | None = None


def _deep_merge(dst: dict, src: dict) -> None:
    for k, v in src.items():
        cur = dst.get(k)
        if isinstance(v, dict) and isinstance(cur, dict):
            _deep_merge(cur, v)
        else:
            dst[k] = _copy_tree(v)


def _copy_tree(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _copy_tree(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy_tree(x) for x in v]
    return v


class DockStateMerger:
    """Merges partial osd/state messages per device SN into the latest full state.

    A dock pushes its osd as several partial messages (dock2_osd.json has three: counters, link,
    environment and position); each is merged into the device's state (nested objects merged key by key,
    arrays and scalars replaced). A message older than the newest already merged for the same key does not
    overwrite it (MQTT QoS 1 redelivery / reordering). Also remembers gateway -> aircraft SN from
    `update_topo` and from the dock's `sub_device`, so DRC poses (published under the gateway SN) can be
    attributed to the aircraft.

    Bounded: at most `max_devices` SNs are kept (least recently updated evicted). Thread-safe.
    """

    def __init__(self, max_devices: int = 10_000) -> None:
        self._max = max_devices
        self._devices: OrderedDict[str, _DeviceEntry] = OrderedDict()
        self._aircraft: dict[str, str] = {}
        self._lock = threading.Lock()

    def update(self, sn: str, data: dict, time: datetime) -> dict:
        """Merge `data` into the state of `sn`; returns a copy of the merged full state."""
        with self._lock:
            entry = self._devices.get(sn)
            if entry is None:
                entry = self._devices[sn] = _DeviceEntry()
                while len(self._devices) > self._max:
                    self._devices.popitem(last=False)
            else:
                self._devices.move_to_end(sn)
            for k, v in data.items():
                prev = entry.updated.get(k)
                if prev is not None and prev > time:
                    continue  # stale redelivery: keep the newer value
                cur = entry.state.get(k)
                if isinstance(v, dict) and isinstance(cur, dict):
                    _deep_merge(cur, v)
                else:
                    entry.state[k] = _copy_tree(v)
                entry.updated[k] = time
            if entry.last_time is None or time > entry.last_time:
                entry.last_time = time
            return _copy_tree(entry.state)

    def get(self, sn: str) -> dict | None:
        with self._lock:
            entry = self._devices.get(sn)
            return None if entry is None else _copy_tree(entry.state)

    def updated_at(self, sn: str) -> dict[str, datetime]:
        with self._lock:
            entry = self._devices.get(sn)
            return {} if entry is None else dict(entry.updated)

    def note_aircraft(self, gateway_sn: str, aircraft_sn: str | None) -> None:
        with self._lock:
            if aircraft_sn:
                self._aircraft[gateway_sn] = aircraft_sn
            else:
                self._aircraft.pop(gateway_sn, None)

    def note_topology(self, topo: DjiTopology) -> None:
        aircraft = [d.sn for d in topo.sub_devices]
        self.note_aircraft(topo.gateway_sn, aircraft[0] if len(aircraft) == 1 else None)

    def aircraft_for(self, gateway_sn: str) -> str | None:
        with self._lock:
            return self._aircraft.get(gateway_sn)

    def __len__(self) -> int:
        return len(self._devices)
