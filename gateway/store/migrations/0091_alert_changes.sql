-- Every committed alert change (new, update, end, review), in the order it committed: the source of the live
-- stream. `id` is the Server-Sent Events id, so a client that reconnects (to this or any other process on the
-- database, before or after a restart) resumes exactly after the last change it saw. Writers take a
-- transaction-level advisory lock before the insert (gateway/alerts/store.py record_change), so ids are
-- allocated in commit order and a reader never sees id N+1 before N.
CREATE TABLE alert_changes (
    id        bigserial   PRIMARY KEY,
    alert_id  bigint      NOT NULL REFERENCES alerts (id),
    clue_code text        NOT NULL,
    type      text        NOT NULL CHECK (type IN ('new', 'update', 'end', 'review')),
    time      timestamptz NOT NULL DEFAULT now(),
    payload   jsonb       NOT NULL
);
-- An alert's review history (type review) and its changes, in order.
CREATE INDEX alert_changes_alert ON alert_changes (alert_id, id);

-- The queue pages by id descending under each filter; these keep a filtered page an index walk.
CREATE INDEX alerts_status_id ON alerts (status, id DESC);
CREATE INDEX alerts_subject_id ON alerts (subject_code, id DESC);
CREATE INDEX alerts_zone_id ON alerts (zone_id, id DESC) WHERE zone_id IS NOT NULL;
CREATE INDEX alerts_device_id ON alerts (device_id, id DESC);
