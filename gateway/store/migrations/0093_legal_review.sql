-- Two-level review on the alert row. First review (一审) ends in confirmed or dismissed; a confirmed alert whose
-- enforcement item asks for it then waits for a legal review (二审) by a different person, which ends in approved
-- or rejected. Who decided is kept on the row (copied from the token, like the claim) so the four-eyes check and
-- the queue need no join; the full record of every decision is the alert's review evidence entries.
ALTER TABLE alerts DROP CONSTRAINT alerts_status_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_status_check
    CHECK (status IN ('new', 'in_review', 'confirmed', 'dismissed', 'approved', 'rejected'));

ALTER TABLE alerts
    -- who ended the first review (confirm or dismiss), and when
    ADD COLUMN first_reviewer_token bigint REFERENCES api_tokens (id),
    ADD COLUMN first_reviewer_name  text,
    ADD COLUMN first_reviewed_at    timestamptz,
    -- whether the alert's item needed a legal review, as configured when it was confirmed: a later change of
    -- configuration does not move alerts already confirmed. NULL (not recorded) counts as needed.
    ADD COLUMN legal_review_required boolean,
    ADD COLUMN legal_reviewer_token bigint REFERENCES api_tokens (id),
    ADD COLUMN legal_reviewer_name  text,
    ADD COLUMN legal_reviewed_at    timestamptz,
    ADD COLUMN legal_review_reason  text,
    -- a supervisor's written decision that an inadmissible alert may be confirmed anyway (Administrative Penalty
    -- Law art. 41): it covers the inadmissible reasons the alert had then, and no reason that appears later.
    ADD COLUMN override_token    bigint REFERENCES api_tokens (id),
    ADD COLUMN override_name     text,
    ADD COLUMN override_at       timestamptz,
    ADD COLUMN override_reason   text,
    ADD COLUMN override_reasons  text[],
    ADD COLUMN override_evidence_idx bigint,
    ADD CONSTRAINT alerts_first_review_whole CHECK (
        (first_reviewer_token IS NULL) = (first_reviewer_name IS NULL)
        AND (first_reviewer_token IS NULL) = (first_reviewed_at IS NULL)),
    ADD CONSTRAINT alerts_legal_review_whole CHECK (
        (legal_reviewer_token IS NULL) = (legal_reviewer_name IS NULL)
        AND (legal_reviewer_token IS NULL) = (legal_reviewed_at IS NULL)
        AND (status IN ('approved', 'rejected')) <= (legal_reviewer_token IS NOT NULL)),
    ADD CONSTRAINT alerts_override_whole CHECK (
        (override_token IS NULL) = (override_name IS NULL)
        AND (override_token IS NULL) = (override_at IS NULL)
        AND (override_token IS NULL) = (override_reason IS NULL)
        AND (override_token IS NULL) = (override_reasons IS NULL)
        AND (override_reason IS NULL OR btrim(override_reason) <> ''));

-- Ready for a case task: approved by the legal review, or confirmed where the item needs none.
ALTER TABLE alerts ADD COLUMN case_ready boolean NOT NULL
    GENERATED ALWAYS AS (status = 'approved' OR (status = 'confirmed' AND legal_review_required IS FALSE)) STORED;
COMMENT ON COLUMN alerts.case_ready IS 'approved, or confirmed where no legal review is needed: ready for a case task';

-- Alerts confirmed before this migration: their first reviewer is in their review changes; whether their item
-- needed a legal review was not recorded, so they get one.
UPDATE alerts a
   SET first_reviewer_token = (c.payload -> 'review' -> 'reviewer' ->> 'token_id')::bigint,
       first_reviewer_name = c.payload -> 'review' -> 'reviewer' ->> 'name',
       first_reviewed_at = c.time
  FROM (SELECT DISTINCT ON (alert_id) alert_id, payload, time FROM alert_changes
         WHERE type = 'review' AND payload -> 'review' ->> 'decision' IN ('confirm', 'dismiss')
         ORDER BY alert_id, id DESC) c
 WHERE a.id = c.alert_id AND a.status IN ('confirmed', 'dismissed');
UPDATE alerts SET legal_review_required = true WHERE status = 'confirmed';

-- The supervisors' queue (GET /api/alerts?queue=legal_review) and what issue 14's case tasks start from.
CREATE INDEX alerts_legal_review_queue ON alerts (id DESC)
    WHERE status = 'confirmed' AND legal_review_required IS NOT FALSE;
CREATE INDEX alerts_case_ready ON alerts (id DESC) WHERE case_ready;

-- The queue's from/to filter (on start_time) was answered by walking the id index backwards past every newer
-- alert; a day's alerts out of 100,000 are found here and sorted by id instead (about ten times faster).
CREATE INDEX alerts_start_time ON alerts (start_time);
