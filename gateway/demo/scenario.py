"""The demo scenario: every device's synthetic stream as MQTT messages, merged in simulated-time order.

Simulated day (local time, from the default 17:30 start; real time at the default 120x in brackets):

    17:40-17:59  drone patrol 1                                   [ +5 s ..  +15 s]
    18:25-19:05  restaurant oil fume ~2.8 mg/m3 (limit 2.0)       [+28 s ..  +48 s]
    20:40-21:40  muck-truck dust episode, PM10 up to ~350 ug/m3   [+95 s .. +125 s]
    21:45-22:25  barbecue oil fume ~2.7 mg/m3, inadmissible device [+128 s .. +148 s]
    23:00-23:19  drone patrol 2 (night, over the construction site)
    23:10-23:40  night construction noise ~65 dB(A) (limit 55)    [+170 s .. +185 s]
    09:30, 14:30 daytime patrols; site works 07:30-12:00 and 14:00-18:00 within the day limit 70

Pure and deterministic for (start, seed): the publisher only decides *when* to send each message.
"""

from __future__ import annotations

import heapq
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gateway.demo import fleet
from gateway.demo.clock import LOCAL_TZ
from gateway.demo.dust import CONSTRUCTION_DUST, dust_samples
from gateway.demo.fume import BARBECUE, RESTAURANT, fume_samples
from gateway.demo.noise import CONSTRUCTION_SITE, RESIDENTIAL, noise_samples
from gateway.demo.route import DOCK, DOCK_ELLIPSOID_M, sortie_duration_s, sortie_poses, sortie_takeoffs

HFOV_DEG = 71.5  # M30T wide camera
DOCK_OSD_EVERY_S = 60.0


@dataclass(frozen=True, slots=True, order=True)
class Message:
    t: datetime
    topic: str = field(compare=False)
    payload: dict[str, Any] = field(compare=False)


def _ts(t: datetime) -> str:
    # Devices in China send local time with its offset; the gateway stores UTC.
    return t.astimezone(LOCAL_TZ).isoformat(timespec="milliseconds")


def _epoch_ms(t: datetime) -> int:
    return round(t.timestamp() * 1000)


def sensor_messages(device_id: str, samples: Iterator[tuple[datetime, dict[str, float]]]) -> Iterator[Message]:
    for t, readings in samples:
        # seq = the device clock in ms: strictly increasing per device, and a rerun of the demo over the same
        # simulated hours (different sub-second phase, see runner) does not collide with stored readings.
        yield Message(t, f"enf/sensor/{device_id}/reading", {"ts": _ts(t), "seq": _epoch_ms(t), "readings": readings})


def drone_messages(start: datetime, seed: int) -> Iterator[Message]:
    """Generic poses at 1 Hz during every scheduled sortie from `start` on (nothing while docked)."""
    phase = start - start.replace(second=0, microsecond=0)
    for n, (takeoff, laps) in enumerate(sortie_takeoffs(start, LOCAL_TZ)):
        for p in sortie_poses(takeoff + phase, seed * 1000 + n, laps=laps):
            yield Message(p.t, f"enf/drone/{fleet.DRONE}/pose", {
                "ts": _ts(p.t), "lat": round(p.lat, 7), "lon": round(p.lon, 7), "alt_rel_m": p.alt_rel_m,
                "alt_abs_m": round(DOCK_ELLIPSOID_M + p.alt_rel_m, 1), "yaw": p.yaw, "pitch": p.pitch,
                "roll": p.roll, "gimbal_yaw": p.yaw, "gimbal_pitch": p.gimbal_pitch, "gimbal_roll": 0.0,
                "hfov_deg": HFOV_DEG,
            })


def airborne(t: datetime) -> bool:
    for takeoff, laps in sortie_takeoffs(t - timedelta(hours=2), LOCAL_TZ):
        if takeoff > t:
            return False
        if t < takeoff + timedelta(seconds=sortie_duration_s(laps)):
            return True
    return False  # pragma: no cover - the schedule is endless


def dock_messages(start: datetime, seed: int) -> Iterator[Message]:
    """DJI Cloud API OSD of the dock (gateway role), once a simulated minute."""
    rng = random.Random(seed)
    k = 0
    while True:
        t = start + timedelta(seconds=k * DOCK_OSD_EVERY_S)
        k += 1
        flying = airborne(t)
        yield Message(t, f"thing/product/{fleet.DOCK}/osd", {
            "tid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "bid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "timestamp": _epoch_ms(t),
            "gateway": fleet.DOCK,
            "data": {
                "mode_code": 4 if flying else 0,  # 4 = working (flight task), 0 = idle
                "drone_in_dock": 0 if flying else 1,
                "latitude": DOCK[0], "longitude": DOCK[1], "height": DOCK_ELLIPSOID_M,
                "environment_temperature": round(24.0 + rng.uniform(-1.0, 1.0), 1),
                "humidity": round(rng.uniform(60.0, 75.0)),
                "wind_speed": round(rng.uniform(0.5, 4.0), 1),
                "rainfall": 0,
                "sub_device": {"device_sn": fleet.DRONE, "device_model_key": "0-67-0", "device_online_status": 1,
                               "device_paired": 1},
            },
        })


def scenario(start: datetime, seed: int) -> Iterator[Message]:
    """All demo messages from `start` on, in time order, forever. Devices sample at their own phases."""
    def at(ms: int) -> datetime:
        return start + timedelta(milliseconds=ms)

    streams = [
        sensor_messages(fleet.NOISE_SITE, noise_samples(CONSTRUCTION_SITE, at(137), seed + 1)),
        sensor_messages(fleet.NOISE_RESIDENTIAL, noise_samples(RESIDENTIAL, at(611), seed + 2)),
        sensor_messages(fleet.DUST_SITE, dust_samples(CONSTRUCTION_DUST, at(12_250), seed + 3)),
        sensor_messages(fleet.FUME_RESTAURANT, fume_samples(RESTAURANT, at(31_020), seed + 4)),
        sensor_messages(fleet.FUME_BARBECUE, fume_samples(BARBECUE, at(47_480), seed + 5)),
        drone_messages(at(420), seed + 6),
        dock_messages(at(5_090), seed + 7),
    ]
    return heapq.merge(*streams)
