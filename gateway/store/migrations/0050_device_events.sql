-- Device events (status, DJI events, topology) and each device's online state.
-- Plain tables in both time-series modes: events are few and are looked up by device.

CREATE TABLE device_events (
    id             bigserial   PRIMARY KEY,
    time           timestamptz NOT NULL,  -- the device's time, or the gateway's receipt when it sent none
    device_id      text        NOT NULL,
    kind           text        NOT NULL CHECK (kind IN ('status', 'event', 'topology')),
    payload        jsonb       NOT NULL,  -- the parsed record (credentials such as device_secret dropped)
    received_at    timestamptz NOT NULL,
    topic          text        NOT NULL,
    payload_sha256 bytea       NOT NULL   -- of the MQTT payload bytes
);
-- A redelivered message repeats its bytes and its time: stored once.
CREATE UNIQUE INDEX device_events_dedup ON device_events (device_id, time, kind, payload_sha256);
CREATE INDEX device_events_device_time ON device_events (device_id, time DESC);

-- No foreign key to devices: with ingest.accept_unknown_devices, and for aircraft a dock reports, the state of
-- a device may be known before (or without) its registration.
CREATE TABLE device_state (
    device_id          text PRIMARY KEY,
    online             boolean,      -- NULL: never reported
    online_changed_at  timestamptz,  -- when `online` last took its current value
    online_reported_at timestamptz,  -- the newest report applied; older ones arriving late change nothing
    via_gateway        text,         -- the dock or RC whose topology last listed this device
    last_seen_at       timestamptz   -- the newest time of a reading, pose or event from the device
);
CREATE INDEX device_state_via_gateway ON device_state (via_gateway) WHERE via_gateway IS NOT NULL;
