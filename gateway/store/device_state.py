"""Device events and device state, written inside the ingest batch's transaction.

Why a module of its own: `device_events` rows and the `device_state` row of each device follow rules of their own
(redeliveries stored once; online state moves only forward in device time; last seen only grows), and the batch
writer should only have to call three functions.

Online state comes from two kinds of report:

* `enf/device/{id}/status` (usually the MQTT last will): the device is online / offline;
* DJI `update_topo`: the gateway is online, each listed sub-device is online and attached to it, and a device
  that this gateway listed before and lists no more is offline (an empty `sub_devices`: the aircraft went off).

A report older than the newest one applied to a device changes nothing (QoS 1 redelivery and reordering), and
`online_changed_at` moves only when `online` takes a new value. Reports of one batch are applied in device time
order. `last_seen_at` is the newest device time of any reading, pose or event (an offline report excluded),
raised once per batch per device.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime

import psycopg

from ingest.device_events import DeviceEvent
from ingest.mqtt import RawMessage

__all__ = ["STAGING", "apply_online_state", "touch_last_seen", "write_events"]

STAGING = """
CREATE TEMP TABLE IF NOT EXISTS device_events_in (
    time timestamptz, device_id text, kind text, payload jsonb, received_at timestamptz, topic text,
    payload_sha256 bytea) ON COMMIT DELETE ROWS;
"""
_EVENT_COLS = "time, device_id, kind, payload, received_at, topic, payload_sha256"

_REPORT = """
INSERT INTO device_state AS s (device_id, online, online_changed_at, online_reported_at, via_gateway)
VALUES (%(device)s, %(online)s, %(t)s, %(t)s, %(via)s)
ON CONFLICT (device_id) DO UPDATE SET
    online = EXCLUDED.online,
    online_changed_at = CASE WHEN s.online IS NOT DISTINCT FROM EXCLUDED.online THEN s.online_changed_at
                             ELSE EXCLUDED.online_changed_at END,
    online_reported_at = EXCLUDED.online_reported_at,
    via_gateway = COALESCE(EXCLUDED.via_gateway, s.via_gateway)
WHERE s.online_reported_at IS NULL OR s.online_reported_at <= EXCLUDED.online_reported_at
"""
_DETACHED = """
UPDATE device_state SET online = false, online_changed_at = %(t)s, online_reported_at = %(t)s
WHERE via_gateway = %(gateway)s AND online AND device_id <> ALL(%(attached)s::text[])
  AND (online_reported_at IS NULL OR online_reported_at <= %(t)s)
"""
# Rows in device id order: two gateways sharing a subscription lock the same rows in the same order.
_SEEN = """
INSERT INTO device_state AS s (device_id, last_seen_at)
SELECT d, t FROM unnest(%s::text[], %s::timestamptz[]) AS u(d, t) ORDER BY d
ON CONFLICT (device_id) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at
WHERE s.last_seen_at IS NULL OR s.last_seen_at < EXCLUDED.last_seen_at
"""


def write_events(cur: psycopg.Cursor, events: Sequence[DeviceEvent], event_msg: Sequence[int],
                 messages: Sequence[RawMessage], now: datetime) -> int:
    """Store `events`; returns how many were new (the rest repeat stored ones)."""
    with cur.copy(f"COPY device_events_in ({_EVENT_COLS}) FROM STDIN") as cp:
        for ev, m in zip(events, event_msg, strict=True):
            raw = messages[m]
            cp.write_row((ev.time, ev.device_id, ev.kind, json.dumps(ev.payload, allow_nan=False),
                          ev.received_at or now, raw.topic, hashlib.sha256(raw.payload).digest()))
    cur.execute(f"INSERT INTO device_events ({_EVENT_COLS}) SELECT {_EVENT_COLS} FROM device_events_in"
                " ON CONFLICT DO NOTHING")
    return cur.rowcount


def apply_online_state(cur: psycopg.Cursor, events: Sequence[DeviceEvent]) -> None:
    for ev in sorted(events, key=lambda e: e.time):  # stable: one time keeps arrival order
        if ev.attached is not None:
            cur.execute(_DETACHED, {"t": ev.time, "gateway": ev.device_id, "attached": list(ev.attached)})
            for sn in ev.attached:
                cur.execute(_REPORT, {"device": sn, "online": True, "t": ev.time, "via": ev.device_id})
        if ev.online is not None:
            cur.execute(_REPORT, {"device": ev.device_id, "online": ev.online, "t": ev.time, "via": None})


def touch_last_seen(cur: psycopg.Cursor, seen: dict[str, datetime]) -> None:
    if seen:
        cur.execute(_SEEN, (list(seen), list(seen.values())))
