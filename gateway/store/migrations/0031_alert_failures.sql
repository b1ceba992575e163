-- Alert events the gateway could not store after its retries. Each is kept whole so that none is lost
-- silently: the event as the rule engine emitted it (the window's readings included), how often it was
-- tried and the last error. No foreign keys: what failed may be the very row they would point at.
CREATE TABLE alert_failures (
    id              bigserial   PRIMARY KEY,
    failed_at       timestamptz NOT NULL DEFAULT now(),
    event_type      text        NOT NULL,
    engine_alert_id text        NOT NULL,
    device_id       text        NOT NULL,
    rule_id         text        NOT NULL,
    attempts        integer     NOT NULL,
    error           text        NOT NULL,
    event           jsonb       NOT NULL
);
CREATE INDEX alert_failures_time ON alert_failures (failed_at DESC);
