-- The state of each video stream as the gateway that reads it last reported it: `enforcegw streams list` and
-- the API read it here, so they tell the truth about a gateway in another process (and say when it stopped
-- reporting: updated_at). One row per stream id; a gateway writes its rows on every change and every few seconds.
CREATE TABLE stream_status (
    stream_id     text        PRIMARY KEY,
    device_id     text        NOT NULL,
    url           text        NOT NULL,   -- with any password masked
    state         text        NOT NULL,   -- connecting | live | stalled | failed | stopped
    since         timestamptz NOT NULL,
    last_error    text,
    frames_read   bigint      NOT NULL DEFAULT 0,
    frames_kept   bigint      NOT NULL DEFAULT 0,
    reconnects    bigint      NOT NULL DEFAULT 0,
    fps           double precision,
    last_frame_at timestamptz,
    time_source   text,
    detail        jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- ZLMediaKit key, DJI live result, read URL
    reporter      text        NOT NULL,   -- host:pid of the gateway writing the row
    updated_at    timestamptz NOT NULL DEFAULT now()
);
