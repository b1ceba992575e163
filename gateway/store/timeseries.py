"""Time-series layout of `readings` and `poses`: every TimescaleDB-specific statement lives here.

With the `timescaledb` extension: hypertables (1-day chunks), a columnstore (compression) policy, and a
continuous aggregate of 5-minute avg/max/count per device and metric. Without it: plain tables with a
BRIN index on time (cheap, fits append-mostly time order) next to the btree on (device_id, time) that the
core migration creates. Evidence tables are never hypertables and never under retention.
"""

from __future__ import annotations

from typing import Literal

Mode = Literal["timescaledb", "plain"]

# Hypertables need every unique index to contain the partitioning column, so the exactly-once keys
# gain `time`. A redelivered message repeats its time, so duplicates are still caught there; a seq re-sent
# with a new time is caught before the insert, in both modes, by the ingest writer's conflict lookup
# (gateway/store/conflicts.py), which searches by (device, seq, metric) without a time bound.
TIMESCALE_STEPS: list[tuple[str, str]] = [
    ("timescale_0001_extension", "CREATE EXTENSION IF NOT EXISTS timescaledb"),
    (
        "timescale_0002_hypertables",
        """
        DROP INDEX IF EXISTS readings_dedup_seq;
        DROP INDEX IF EXISTS readings_dedup_time;
        CREATE UNIQUE INDEX readings_dedup_seq ON readings (device_id, seq, metric, time) WHERE seq IS NOT NULL;
        CREATE UNIQUE INDEX readings_dedup_time ON readings (device_id, time, metric) WHERE seq IS NULL;
        SELECT create_hypertable('readings', by_range('time', INTERVAL '1 day'), migrate_data => true);
        SELECT create_hypertable('poses', by_range('time', INTERVAL '1 day'), migrate_data => true);
        """,
    ),
    (
        "timescale_0003_columnstore",
        """
        ALTER TABLE readings SET (timescaledb.enable_columnstore, timescaledb.segmentby = 'device_id, metric',
                                  timescaledb.orderby = 'time DESC');
        CALL add_columnstore_policy('readings', after => INTERVAL '7 days');
        ALTER TABLE poses SET (timescaledb.enable_columnstore, timescaledb.segmentby = 'device_id',
                               timescaledb.orderby = 'time DESC');
        CALL add_columnstore_policy('poses', after => INTERVAL '7 days');
        """,
    ),
    (
        "timescale_0004_readings_5m",
        """
        CREATE MATERIALIZED VIEW readings_5m WITH (timescaledb.continuous) AS
            SELECT time_bucket(INTERVAL '5 minutes', time) AS bucket, device_id, metric,
                   avg(value) AS avg, max(value) AS max, count(*) AS n
            FROM readings GROUP BY bucket, device_id, metric WITH NO DATA;
        SELECT add_continuous_aggregate_policy('readings_5m', start_offset => INTERVAL '1 day',
            end_offset => INTERVAL '5 minutes', schedule_interval => INTERVAL '5 minutes');
        """,
    ),
]

# Same name as the continuous aggregate, so queries of 5-minute figures work in both modes.
PLAIN_STEPS: list[tuple[str, str]] = [
    (
        "plain_0001_brin",
        """
        CREATE INDEX IF NOT EXISTS readings_time_brin ON readings USING brin (time);
        CREATE INDEX IF NOT EXISTS poses_time_brin ON poses USING brin (time);
        CREATE INDEX IF NOT EXISTS poses_device_time ON poses (device_id, time DESC);
        """,
    ),
    (
        "plain_0002_readings_5m",
        """
        CREATE VIEW readings_5m AS
            SELECT date_bin(INTERVAL '5 minutes', time, TIMESTAMPTZ '2000-01-01') AS bucket, device_id, metric,
                   avg(value) AS avg, max(value) AS max, count(*) AS n
            FROM readings GROUP BY bucket, device_id, metric;
        """,
    ),
]

AVAILABLE_SQL = "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"


def steps_for(mode: Mode) -> list[tuple[str, str]]:
    return TIMESCALE_STEPS if mode == "timescaledb" else PLAIN_STEPS
