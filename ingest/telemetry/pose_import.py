"""Storing parsed telemetry in `poses`, as the MQTT poses are: one row per (device, time), a re-import adds none.

Rows go by COPY into a session-local staging table, then `INSERT ... ON CONFLICT (device_id, time) DO NOTHING`,
one transaction per batch, so a big file commits as it goes and a second import of it counts duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from ingest.models import Pose

__all__ = ["StoreCounts", "UnknownDeviceError", "check_devices", "store_poses"]

_COLS = ("time, device_id, lat, lon, has_fix, alt_rel_m, alt_abs_m, yaw, pitch, roll, gimbal_yaw, gimbal_pitch,"
         " gimbal_roll, hfov_deg, source, gateway_sn, extra, received_at")
_STAGING = ("CREATE TEMP TABLE IF NOT EXISTS poses_file_in (LIKE poses INCLUDING DEFAULTS)"
            " ON COMMIT DELETE ROWS")


class UnknownDeviceError(ValueError):
    """The poses name a device that is not in the `devices` registry."""

    def __init__(self, device_id: str) -> None:
        super().__init__(f"device {device_id!r} is not registered (add it with `enforcegw devices import`)")
        self.device_id = device_id


@dataclass(frozen=True, slots=True)
class StoreCounts:
    stored: int
    duplicate: int  # a pose of the same device at the same time was already stored (or came twice in the file)


def _row(p: Pose, now: datetime) -> tuple:
    return (p.time, p.device_id, p.lat, p.lon, p.has_fix, p.alt_rel_m, p.alt_abs_m, p.yaw, p.pitch, p.roll,
            p.gimbal_yaw, p.gimbal_pitch, p.gimbal_roll, p.hfov_deg, p.source, p.gateway_sn,
            json.dumps(p.extra, default=str, allow_nan=False), p.received_at or now)


def check_devices(conn: psycopg.Connection, device_ids: set[str]) -> None:
    """Raise UnknownDeviceError for the first device id (sorted) that is not registered."""
    if not device_ids:
        return
    known = {r[0] for r in conn.execute("SELECT id FROM devices WHERE id = ANY(%s)", (sorted(device_ids),))}
    for device_id in sorted(device_ids - known):
        raise UnknownDeviceError(device_id)


def store_poses(conn: psycopg.Connection, poses: Sequence[Pose], *, batch_size: int = 5000,
                progress: Callable[[int, int], None] | None = None) -> StoreCounts:
    """Store poses whose devices are all registered (checked first: nothing is stored for an unknown one)."""
    check_devices(conn, {p.device_id for p in poses})
    conn.commit()
    now = datetime.now(UTC)
    stored = 0
    with conn.cursor() as cur:
        cur.execute(_STAGING)
        conn.commit()
        for offset in range(0, len(poses), batch_size):
            batch = poses[offset:offset + batch_size]
            with conn.transaction():
                with cur.copy(f"COPY poses_file_in ({_COLS}) FROM STDIN") as cp:
                    for p in batch:
                        cp.write_row(_row(p, now))
                cur.execute(f"INSERT INTO poses ({_COLS}) SELECT {_COLS} FROM poses_file_in"
                            " ON CONFLICT (device_id, time) DO NOTHING")
                stored += cur.rowcount
            if progress is not None:
                progress(offset + len(batch), len(poses))
    return StoreCounts(stored=stored, duplicate=len(poses) - stored)
