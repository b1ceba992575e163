-- Cloud-inspection tasks and their delivery to case systems (gateway/cases/). A task is made in the same
-- transaction as the review decision that made its alert ready for a case; with it, one delivery row per
-- destination system: the transactional outbox. The delivery worker claims due rows (FOR UPDATE SKIP LOCKED, so
-- several gateway processes share the work), marks them `delivering` under a lease before the request goes out,
-- and records each attempt; a process killed mid-request leaves a `delivering` row whose lease runs out and is
-- sent again with the same webhook-id, which the receiver deduplicates.
CREATE TABLE case_tasks (
    id           bigserial   PRIMARY KEY,
    task_id      text        NOT NULL UNIQUE,
    alert_id     bigint      NOT NULL UNIQUE REFERENCES alerts (id),
    clue_code    text        NOT NULL,
    subject_code text        NOT NULL,
    item_code    text,
    kind         text        NOT NULL,
    source       text        NOT NULL,
    document     jsonb       NOT NULL,
    destinations int         NOT NULL,  -- 0: no configured system matched (unrouted), shown as such
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_tasks_created ON case_tasks (created_at DESC, id DESC);
CREATE INDEX case_tasks_unrouted ON case_tasks (id) WHERE destinations = 0;

CREATE TABLE case_deliveries (
    id               bigserial   PRIMARY KEY,
    task_id          bigint      NOT NULL REFERENCES case_tasks (id),
    system           text        NOT NULL,
    webhook_id       text        NOT NULL UNIQUE,  -- stable per task and destination: the receiver dedups on it
    body             bytea       NOT NULL,         -- the exact bytes sent on every attempt (mapping applied)
    state            text        NOT NULL DEFAULT 'pending' CHECK (state IN
                     ('pending', 'delivering', 'delivered', 'acknowledged', 'push_failed', 'disabled')),
    attempts         int         NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),  -- when due; while delivering, when the lease runs out
    first_attempt_at timestamptz,
    last_attempt_at  timestamptz,
    last_status      int,
    last_error       text,
    receiver_ref     text,         -- the receiver's case or clue number, from its answer or a later ack
    ack_evidence_idx bigint,       -- the evidence entry recording the receiver's number
    delivered_at     timestamptz,
    acknowledged_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (task_id, system)
);
CREATE INDEX case_deliveries_due ON case_deliveries (next_attempt_at) WHERE state IN ('pending', 'delivering');
CREATE INDEX case_deliveries_state ON case_deliveries (state, system);

CREATE TABLE case_attempts (
    id          bigserial   PRIMARY KEY,
    delivery_id bigint      NOT NULL REFERENCES case_deliveries (id),
    n           int         NOT NULL,
    started_at  timestamptz NOT NULL,
    latency_ms  double precision,
    status      int,            -- HTTP status; NULL when no answer came (refused, timeout)
    error       text,
    retry_after_s double precision
);
CREATE INDEX case_attempts_delivery ON case_attempts (delivery_id, n);

-- A receiver answering 410 Gone disables its system (Standard Webhooks): kept here, not in config, so it holds
-- across restarts until an operator re-enables it; its pending deliveries become `disabled`.
CREATE TABLE case_systems_disabled (
    system      text        PRIMARY KEY,
    disabled_at timestamptz NOT NULL DEFAULT now(),
    reason      text        NOT NULL
);
