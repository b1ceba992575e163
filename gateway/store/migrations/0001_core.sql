-- Core tables: device registry, time series (readings, poses) and dead letters.
-- Time-series layout (hypertables or plain tables with BRIN) is applied afterwards by
-- gateway/store/timeseries.py, which holds every TimescaleDB-specific statement.

CREATE TABLE devices (
    id                      text PRIMARY KEY,
    kind                    text NOT NULL CHECK (kind IN ('sensor', 'camera', 'drone', 'dock')),
    name                    text NOT NULL,
    lon                     double precision CHECK (lon BETWEEN -180 AND 180),
    lat                     double precision CHECK (lat BETWEEN -90 AND 90),
    inspection_object       text,
    jurisdiction            text,
    legal_review_ref        text,
    technical_review_ref    text,
    calibration_cert        text,
    calibration_valid_until timestamptz,
    public_notice           text,
    attrs                   jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE readings (
    time        timestamptz      NOT NULL,
    device_id   text             NOT NULL,
    metric      text             NOT NULL,
    value       double precision NOT NULL,
    seq         bigint,
    received_at timestamptz      NOT NULL DEFAULT now()
);
-- Exactly-once: a redelivered message (QoS 1 duplicate, publisher retry, restart) hits one of these.
CREATE UNIQUE INDEX readings_dedup_seq ON readings (device_id, seq, metric) WHERE seq IS NOT NULL;
CREATE UNIQUE INDEX readings_dedup_time ON readings (device_id, time, metric) WHERE seq IS NULL;
CREATE INDEX readings_device_time ON readings (device_id, time DESC);

CREATE TABLE poses (
    time         timestamptz NOT NULL,
    device_id    text        NOT NULL,
    lat          double precision,
    lon          double precision,
    has_fix      boolean     NOT NULL,
    alt_rel_m    double precision,
    alt_abs_m    double precision,
    yaw          double precision,
    pitch        double precision,
    roll         double precision,
    gimbal_yaw   double precision,
    gimbal_pitch double precision,
    gimbal_roll  double precision,
    hfov_deg     double precision,
    source       text        NOT NULL,
    gateway_sn   text,
    extra        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    received_at  timestamptz NOT NULL DEFAULT now(),
    -- A fix at exactly 0,0 is DJI's "no position"; it must arrive here as NULL.
    CHECK (has_fix = (lat IS NOT NULL AND lon IS NOT NULL))
);
CREATE UNIQUE INDEX poses_dedup ON poses (device_id, time);

CREATE TABLE dead_letters (
    id          bigserial   PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text        NOT NULL,
    reason      text        NOT NULL,
    detail      text        NOT NULL,
    payload     bytea       NOT NULL
);
CREATE INDEX dead_letters_reason ON dead_letters (reason, received_at DESC);
