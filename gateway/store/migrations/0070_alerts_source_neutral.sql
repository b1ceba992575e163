-- Alerts become source-neutral clue candidates: a common core that means the same for sensor, video and manual
-- clues, and a per-source `detail` (validated by gateway/alerts/detail.py before it is written). What proves a
-- sensor alert (standard, clause, metric, unit, averaging, window, limit, peak and last value) moves into detail.
-- `status` is the review state only; delivering a confirmed clue to case systems is the case outbox's business.
ALTER TABLE alerts ADD COLUMN source text NOT NULL DEFAULT 'sensor' CHECK (source IN ('sensor', 'video', 'manual'));
ALTER TABLE alerts ADD COLUMN detail jsonb NOT NULL DEFAULT '{}'::jsonb;

UPDATE alerts SET detail = jsonb_build_object(
    'standard', standard, 'clause', clause, 'metric', metric, 'unit', unit, 'averaging', averaging,
    'window_s', window_s, 'comparison', NULL, 'limit_value', limit_value, 'limit_low', NULL,
    'peak_value', peak_value, 'last_value', last_value);

ALTER TABLE alerts DROP COLUMN standard, DROP COLUMN clause, DROP COLUMN metric, DROP COLUMN unit,
    DROP COLUMN averaging, DROP COLUMN window_s, DROP COLUMN limit_value, DROP COLUMN peak_value,
    DROP COLUMN last_value;
ALTER TABLE alerts ALTER COLUMN source DROP DEFAULT;

-- Delivery states were never reached by any code path; a clue that got that far had been confirmed.
ALTER TABLE alerts DROP CONSTRAINT alerts_status_check;
UPDATE alerts SET status = 'confirmed' WHERE status IN ('task_created', 'pushed', 'acknowledged', 'push_failed');
ALTER TABLE alerts ADD CONSTRAINT alerts_status_check
    CHECK (status IN ('new', 'in_review', 'confirmed', 'dismissed'));

CREATE INDEX alerts_source_time ON alerts (source, start_time DESC);
