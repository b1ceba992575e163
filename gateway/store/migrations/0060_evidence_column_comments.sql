-- Which evidence columns are evidence (see 0010_evidence.sql): recorded in the catalogue too, so that whoever
-- reads the tables with psql or a reporting tool sees it beside the column.
COMMENT ON COLUMN evidence_entries.entry IS
    'Canonical entry bytes (RFC 8785) exactly as hashed into the Merkle log: the evidence itself.';
COMMENT ON COLUMN evidence_entries.leaf_hash IS
    'SHA-256(0x00 || entry); derived from entry, re-computed by the audit.';
COMMENT ON COLUMN evidence_entries.device_id IS
    'Copy of entry.device_id for lookups; the audit compares it with the entry bytes.';
COMMENT ON COLUMN evidence_entries.device_seq IS
    'Copy of entry.device_seq for lookups; the audit compares it with the entry bytes.';
COMMENT ON COLUMN evidence_entries.entry_type IS
    'Copy of entry.entry_type for lookups; the audit compares it with the entry bytes.';
COMMENT ON COLUMN evidence_entries.appended_at IS
    'NOT EVIDENCE: the database clock when the row was written, signed by nothing. The signed receive time is '
    'gateway_received_at inside the entry bytes.';
COMMENT ON COLUMN evidence_tree_heads.integrated_at IS
    'NOT EVIDENCE: the database clock when the sequencer integrated this size.';
COMMENT ON COLUMN evidence_checkpoints.signed_at IS
    'NOT EVIDENCE: the database clock when the checkpoint was stored; a trusted time comes from its RFC 3161 token.';
COMMENT ON COLUMN evidence_timestamps.received_at IS 'NOT EVIDENCE: the database clock when the token arrived.';
COMMENT ON COLUMN evidence_cosignatures.received_at IS
    'NOT EVIDENCE: the database clock when the cosignature arrived.';
