"""Alerts arriving live at a set rate, written as the alert service writes them: the row in `alerts`
(INSERT ... RETURNING *) and its change in `alert_changes` through gateway/alerts/store.py `record_change`, one
transaction per tick, so every gateway LISTENing on the change channel streams them to its consoles. For the
console benchmarks: the queue under a steady flow of `new` events and, with `end_share`, `end` events of alerts
it opened earlier in the run (rows updated in place)."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.rows import dict_row

from gateway.alerts.detail import detail_for
from gateway.alerts.store import record_change

TICK_S = 0.1  # one transaction per tick: the rate is reached in batches of rate * TICK_S
_INSERT = (
    "INSERT INTO alerts (clue_code, engine_alert_id, source, kind, category, rule_id, device_id, zone_id,"
    " subject_code, subject_name, lon, lat, start_time, peak_time, end_time, end_reason, severity, admissible,"
    " detail) VALUES (%s, %s, 'sensor', 'construction_noise', 'violation', 'gb12523_2025.night.laeq', %s, %s, %s,"
    " %s, %s, %s, %s, %s, %s, %s, 'major', true, %s) RETURNING *"
)
_END = ("UPDATE alerts SET end_time = %s, end_reason = 'cleared', updated_at = now() WHERE id = %s"
        " AND end_time IS NULL RETURNING *")


def _detail(peak: float) -> str:
    return json.dumps(detail_for("sensor", {
        "standard": "GB 12523-2025", "clause": "4.1", "metric": "LAeq", "unit": "dB(A)", "averaging": "leq",
        "window_s": 1200.0, "comparison": "gt", "limit_value": 55.0, "limit_low": None, "peak_value": peak,
        "last_value": peak - 2}))


def live_code(n: int) -> str:
    """The clue code of the n-th live alert (1-based); the prefix keeps them apart from bulk_alerts' codes."""
    return f"440605-LIVE-{n:07d}"


def live_number(code: str) -> int | None:
    """n for a code from live_code, None for any other."""
    prefix = "440605-LIVE-"
    return int(code[len(prefix):]) if code.startswith(prefix) and code[len(prefix):].isdigit() else None


@dataclass
class LiveAlerts:
    """`start()` a thread writing `rate` changes a second (set `rate` at any time; 0 pauses) until `stop()`.
    New alerts go to `devices` in turn, in `zone_id`. With `end_share` 0 each is written already ended (a short
    alert: one `new` change); otherwise it is written open, a share `end_share` of the changes ends the oldest
    open one, and a device's open alert is ended before it opens the next (a device has one open alert per
    rule and zone: alerts_one_open), so the ends are at least one per device round. Counts what it wrote:
    `opened`, `ended`."""

    db_url: str
    devices: Sequence[tuple[str, float, float]]  # (device id, lon, lat)
    zone_id: str | None = None
    rate: float = 0.0
    end_share: float = 0.0
    seed: int = 7
    opened: int = 0
    ended: int = 0
    _open: deque[tuple[int, str]] = field(default_factory=deque)  # (alert id, device), oldest first
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _error: BaseException | None = None

    @property
    def written(self) -> int:
        return self.opened + self.ended

    def start(self) -> LiveAlerts:
        self._thread = threading.Thread(target=self._run, name="live-alerts", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        if self._error is not None:
            raise RuntimeError("the live alert writer failed") from self._error

    def _run(self) -> None:
        rnd = random.Random(self.seed)
        owed = 0.0
        last = time.monotonic()
        try:
            with psycopg.connect(self.db_url) as conn:
                while not self._stop.wait(max(0.0, last + TICK_S - time.monotonic())):
                    now = time.monotonic()
                    owed += self.rate * (now - last)
                    last = now
                    n = int(owed)
                    if n:
                        owed -= n
                        self._write(conn, n, rnd)
        except BaseException as exc:  # the bench reads it in stop()
            self._error = exc

    def _write(self, conn: psycopg.Connection, n: int, rnd: random.Random) -> None:
        now = datetime.now(UTC)
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            changes: list[tuple[str, dict]] = []

            def end(alert_id: int) -> None:
                row = cur.execute(_END, (now, alert_id)).fetchone()
                if row is not None:
                    changes.append(("end", row))
                    self.ended += 1

            while len(changes) < n:
                if self.end_share and self._open and rnd.random() < self.end_share:
                    end(self._open.popleft()[0])
                    continue
                device, lon, lat = self.devices[self.opened % len(self.devices)]
                if self.end_share:
                    for held in [o for o in self._open if o[1] == device]:
                        self._open.remove(held)
                        end(held[0])
                self.opened += 1
                start = now - timedelta(minutes=20)
                ended = None if self.end_share else now
                row = cur.execute(_INSERT, (
                    live_code(self.opened), f"live-{self.opened}", device, self.zone_id, "440605",
                    "南海区综合行政执法局", lon, lat, start, start + timedelta(minutes=1), ended,
                    None if ended is None else "cleared", _detail(round(60 + rnd.random() * 15, 1)))).fetchone()
                if ended is None:
                    self._open.append((row["id"], device))
                changes.append(("new", row))
            for type_, row in changes:
                record_change(conn, type_, row)
