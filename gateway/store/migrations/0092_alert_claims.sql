-- A reviewer takes an alert into `in_review` under a lease: while it runs only the holder (an API token) may
-- release, confirm or dismiss it; once it has passed anyone may take the alert. The holder is kept on the row
-- (not a side table) so that the claim and the status change in one UPDATE under the row lock. The name is
-- copied from the token so the queue can say who holds an alert without a join. All three are NULL when
-- nobody holds the alert; a decision clears them (the decision's review change records who made it).
ALTER TABLE alerts
    ADD COLUMN claimed_by_token bigint REFERENCES api_tokens (id),
    ADD COLUMN claimed_by_name  text,
    ADD COLUMN claim_expires_at timestamptz,
    ADD CONSTRAINT alerts_claim_whole CHECK (
        (claimed_by_token IS NULL) = (claimed_by_name IS NULL)
        AND (claimed_by_token IS NULL) = (claim_expires_at IS NULL));
