-- Alerts (clue candidates) with their lifecycle. A machine detection is never a penalty: `status` moves
-- new -> in_review -> confirmed | dismissed; confirmed -> task_created -> pushed -> acknowledged
-- (or push_failed). Open = end_time IS NULL; one open alert per (device, rule, zone).
CREATE TABLE alerts (
    id                   bigserial   PRIMARY KEY,
    clue_code            text        NOT NULL UNIQUE,
    engine_alert_id      text        NOT NULL UNIQUE,
    kind                 text        NOT NULL,
    rule_id              text        NOT NULL,
    standard             text        NOT NULL,
    clause               text        NOT NULL,
    device_id            text        NOT NULL REFERENCES devices (id),
    zone_id              text,
    subject_code         text        NOT NULL,           -- enforcement subject, 'unassigned' when none
    subject_name         text,
    enforcement_item     text,
    lon                  double precision,
    lat                  double precision,
    metric               text        NOT NULL,
    unit                 text        NOT NULL,
    averaging            text        NOT NULL,
    window_s             double precision NOT NULL,
    limit_value          double precision NOT NULL,
    start_time           timestamptz NOT NULL,
    peak_time            timestamptz NOT NULL,
    peak_value           double precision NOT NULL,
    last_value           double precision NOT NULL,
    end_time             timestamptz,
    end_reason           text,
    severity             text        NOT NULL,
    admissible           boolean     NOT NULL,
    inadmissible_reasons text[]      NOT NULL DEFAULT '{}',
    status               text        NOT NULL DEFAULT 'new' CHECK (status IN (
                             'new', 'in_review', 'confirmed', 'dismissed', 'task_created', 'pushed',
                             'acknowledged', 'push_failed')),
    evidence_open_idx    bigint,
    evidence_end_idx     bigint,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX alerts_one_open ON alerts (device_id, rule_id, coalesce(zone_id, '')) WHERE end_time IS NULL;
CREATE INDEX alerts_queue ON alerts (status, created_at DESC);
CREATE INDEX alerts_device_time ON alerts (device_id, start_time DESC);

-- Per (enforcement subject, local date) counter behind the readable clue codes.
CREATE TABLE clue_sequences (
    subject_code text NOT NULL,
    day          date NOT NULL,
    last         integer NOT NULL,
    PRIMARY KEY (subject_code, day)
);

-- Gateways refresh their device view (rule bindings, admissibility) when the registry changes.
CREATE FUNCTION devices_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('enforcegw_devices', '');
    RETURN NULL;
END $$;
CREATE TRIGGER devices_changed AFTER INSERT OR UPDATE OR DELETE ON devices
    FOR EACH STATEMENT EXECUTE FUNCTION devices_changed();
