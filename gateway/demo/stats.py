"""What the summary shows, gathered once a second: gateway metrics, publisher counters, the latest stored
value of every demo device and, when the alerts table exists (a later feature), the open alerts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from gateway.metrics import Metrics

# Alert statuses after which an alert no longer waits for anyone (DESIGN.md, alert lifecycle).
# Open = still waiting in the operator queue (an exceedance that has ended still needs its review).
_CLOSED = ("dismissed", "confirmed", "task_created", "pushed", "acknowledged", "ended", "closed")
_TIME_COLUMNS = ("start_time", "opened_at", "start", "created_at", "time")


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
    alerts: list[dict[str, Any]] | None  # None: no alerts table yet
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

    def open_alerts(self, limit: int = 10) -> list[dict[str, Any]] | None:
        """Open alerts as plain dicts, or None while the alerts table does not exist (before that feature)."""
        conn = self._connection()
        if conn.execute("SELECT to_regclass('alerts')").fetchone()[0] is None:
            return None
        cols = {r[0] for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'alerts'::regclass AND attnum > 0"
            " AND NOT attisdropped")}
        # The schema is another feature's: query only columns that exist, so either version works.
        where = sql.SQL("WHERE a.status::text <> ALL(%s)") if "status" in cols else sql.SQL("")
        order_col = next((c for c in _TIME_COLUMNS if c in cols), None)
        order = sql.SQL("ORDER BY a.{} DESC").format(sql.Identifier(order_col)) if order_col else sql.SQL("")
        query = sql.SQL("SELECT to_jsonb(a) FROM alerts a {} {} LIMIT %s").format(where, order)
        params = ([list(_CLOSED)] if "status" in cols else []) + [limit]
        return [r[0] for r in conn.execute(query, params)]
