"""Many synthetic alerts at once (COPY), for benchmarks of the queue: rows as the alert service would leave them,
within every constraint of the alerts table (gateway/store/migrations/0030, 0070, 0080, 0092)."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg

from gateway.alerts.detail import detail_for

COLUMNS = ("clue_code", "engine_alert_id", "source", "kind", "category", "rule_id", "device_id", "zone_id",
           "subject_code", "subject_name", "start_time", "peak_time", "end_time", "end_reason", "severity",
           "admissible", "status", "evidence_open_idx", "detail")
# (kind, rule_id, standard, metric, unit, limit): what a city's sensors raise most
KINDS = (("construction_noise", "gb12523_2025.night.laeq", "GB 12523-2025", "LAeq", "dB(A)", 55.0),
         ("oil_fume", "gb18483_2001.oil_fume", "GB 18483-2001", "oil_fume", "mg/m3", 2.0),
         ("dust", "local.dust.pm10", "DB44/T 2340-2021", "PM10", "ug/m3", 150.0))
# review states of a queue that has been worked for a year: most decided, a tail still open
STATUSES = (("dismissed", 0.45), ("confirmed", 0.35), ("new", 0.2))
SUBJECTS = (("440605", "南海区综合行政执法局"), ("440604", "禅城区综合行政执法局"), ("440606", "顺德区综合行政执法局"),
            ("440607", "三水区综合行政执法局"), ("440608", "高明区综合行政执法局"))


def _detail(standard: str, metric: str, unit: str, limit: float, peak: float) -> str:
    return json.dumps(detail_for("sensor", {
        "standard": standard, "clause": "4.1", "metric": metric, "unit": unit, "averaging": "leq", "window_s": 1200.0,
        "comparison": "gt", "limit_value": limit, "limit_low": None, "peak_value": peak, "last_value": peak * 0.9}))


def bulk_alerts(db_url: str, n: int, devices: Sequence[str], *, evidence_idx: Sequence[int] = (),
                days: int = 365, seed: int = 13) -> None:
    """COPY n ended alerts over the last `days`, in start-time order (ids rise with time, as they do live),
    spread over `devices`, the kinds, subjects and review states above; `evidence_idx`, when given, are entries
    the rows cite as their opening evidence. Then VACUUM ANALYZE, as autovacuum would after such a load."""
    rnd = random.Random(seed)
    details = {(k, q): _detail(std, m, u, lim, lim * (1.1 + q / 10)) for k, (_, _, std, m, u, lim) in enumerate(KINDS)
               for q in range(5)}
    weights = [w for _, w in STATUSES]
    t0 = datetime.now(UTC) - timedelta(days=days)
    step = timedelta(days=days) / n
    with psycopg.connect(db_url) as conn, conn.cursor().copy(f"COPY alerts ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for i in range(n):
            k = rnd.randrange(len(KINDS))
            kind, rule, *_ = KINDS[k]
            start = t0 + step * i
            subject = SUBJECTS[i % len(SUBJECTS)]
            copy.write_row((
                f"{subject[0]}-{start:%Y%m%d}-B{i:06d}", f"bulk-{i}", "sensor", kind, "violation", rule,
                devices[rnd.randrange(len(devices))], None, subject[0], subject[1], start,
                start + timedelta(minutes=2), start + timedelta(minutes=25), "cleared", "major",
                rnd.random() > 0.05, rnd.choices(STATUSES, weights)[0][0],
                evidence_idx[i % len(evidence_idx)] if evidence_idx else None, details[(k, rnd.randrange(5))]))
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute("VACUUM ANALYZE alerts")
