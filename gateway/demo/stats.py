"""What the summary shows, gathered once a second: gateway metrics, publisher counters, the latest stored
value of every demo device, the recent alerts with their evidence entries, and the newest signed checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from gateway.metrics import Metrics

_RECENT_ALERTS = """
SELECT clue_code, kind, device_id, rule_id, (detail->>'peak_value')::float8 AS peak_value,
       (detail->>'limit_value')::float8 AS limit_value, start_time, end_time, status, admissible,
       inadmissible_reasons, evidence_open_idx, evidence_end_idx,
       CASE WHEN source = 'video' THEN concat(detail->>'object_kind', ' ', round((detail->>'confidence')::numeric, 2))
       END AS figure
FROM alerts ORDER BY id DESC LIMIT %s
"""


@dataclass
class DeviceLatest:
    device_id: str
    kind: str
    admissible: bool
    values: dict[str, float] = field(default_factory=dict)
    at: datetime | None = None


@dataclass
class Snapshot:
    sim_time: datetime
    caught_up: bool
    published: int
    acked: int
    readings_stored: int
    poses_stored: int
    dead_letters: dict[str, int]
    queue_depth: int
    flush_p50_ms: float | None
    devices: list[DeviceLatest]
    alerts: list[dict[str, Any]]
    checkpoint_size: int | None = None  # entries covered by the newest signed checkpoint
    error: str | None = None


def sample(metrics: Metrics, name: str, labels: dict[str, str] | None = None) -> float:
    return metrics.registry.get_sample_value(name, labels or {}) or 0.0


def dead_letters_by_reason(metrics: Metrics) -> dict[str, int]:
    out: dict[str, int] = {}
    for family in metrics.dead_letters.collect():
        for s in family.samples:
            if s.name.endswith("_total") and s.value:
                out[s.labels["reason"]] = int(s.value)
    return out


def histogram_quantile(metrics: Metrics, name: str, q: float) -> float | None:
    """Upper bound of the bucket holding the q-quantile (Prometheus buckets are cumulative)."""
    buckets: list[tuple[float, float]] = []
    for family in metrics.registry.collect():
        for s in family.samples:
            if s.name == f"{name}_bucket":
                buckets.append((float(s.labels["le"]), s.value))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0.0
    if not total:
        return None
    for upper, cumulative in buckets:
        if cumulative >= q * total:
            return upper
    return None


class StoreView:
    """Read-only queries for the summary on one lazily (re)opened connection; called from a worker thread."""

    def __init__(self, url: str, device_ids: tuple[str, ...]) -> None:
        self.url = url
        self.device_ids = list(device_ids)
        self._conn: psycopg.Connection | None = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def devices(self) -> list[DeviceLatest]:
        conn = self._connection()
        rows = conn.execute(
            "SELECT id, kind, calibration_valid_until IS NULL OR calibration_valid_until >= now()"
            " FROM devices WHERE id = ANY(%s)", (self.device_ids,)).fetchall()
        found = {r[0]: DeviceLatest(r[0], r[1], r[2]) for r in rows}
        for device_id, metric, value, at in conn.execute(
            "SELECT d.id, r.metric, r.value, r.time FROM unnest(%s::text[]) AS d(id) CROSS JOIN LATERAL"
            " (SELECT metric, value, time FROM readings WHERE device_id = d.id ORDER BY time DESC LIMIT 2) r",
            (self.device_ids,),
        ):
            d = found.get(device_id)
            if d is not None and metric not in d.values:
                d.values[metric] = value
                d.at = max(d.at, at) if d.at else at
        for device_id, lat, lon, alt, at in conn.execute(
            "SELECT d.id, p.lat, p.lon, p.alt_rel_m, p.time FROM unnest(%s::text[]) AS d(id) CROSS JOIN LATERAL"
            " (SELECT lat, lon, alt_rel_m, time FROM poses WHERE device_id = d.id ORDER BY time DESC LIMIT 1) p",
            (self.device_ids,),
        ):
            d = found.get(device_id)
            if d is not None:
                d.values.update({"lat": lat, "lon": lon} | ({"alt_rel_m": alt} if alt is not None else {}))
                d.at = at
        return [found[i] for i in self.device_ids if i in found]

    def recent_alerts(self, limit: int = 8) -> list[dict[str, Any]]:
        """The newest alerts, open or ended, with the evidence entries that fixed their open and end."""
        with self._connection().cursor(row_factory=dict_row) as cur:
            return cur.execute(_RECENT_ALERTS, (limit,)).fetchall()

    def checkpoint_size(self) -> int | None:
        row = self._connection().execute("SELECT max(size) FROM evidence_checkpoints").fetchone()
        return row[0] if row else None
