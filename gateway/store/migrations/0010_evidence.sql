-- Evidence log (evidence/ package: entries, RFC 6962 tree, signed checkpoints; evidence/log.py says how they fit).
-- Every table here is append-only: rows are inserted once and never changed or removed. A trigger refuses
-- UPDATE, DELETE and TRUNCATE, and the privileges are revoked, so rewriting history takes a superuser who
-- disables the trigger, and the audit then finds it (re-hashing against signed checkpoints).
-- These are plain tables: never hypertables, never under retention or compression.
--
-- What is evidence: the signed checkpoints and the entry bytes, and whatever is derived from them. Every other
-- column is either derived from those and re-checked by the audit (leaf_hash, device_id, device_seq,
-- entry_type, the nodes and tree heads, a checkpoint's size, root and key_id), or it is the database's own
-- clock and not evidence: evidence_entries.appended_at, evidence_tree_heads.integrated_at,
-- evidence_checkpoints.signed_at and the received_at columns hold now() at the writing transaction's start,
-- are signed by nothing and cannot be derived from anything signed, so a superuser can set them to any value
-- unseen. They are for operations (how far the sequencer lags, when a row arrived here); no proof, bundle or
-- audit reads them. The signed time an entry reached the gateway is `gateway_received_at` inside the entry
-- bytes (and its capture time `capture_time`), and a checkpoint's signed time comes from its RFC 3161 token.

CREATE TABLE evidence_entries (
    idx          bigint      PRIMARY KEY CHECK (idx >= 0),
    leaf_hash    bytea       NOT NULL CHECK (octet_length(leaf_hash) = 32),  -- SHA-256(0x00 || entry)
    entry        bytea       NOT NULL,                                       -- RFC 8785 bytes, as hashed
    device_id    text        NOT NULL,   -- copies of fields inside `entry`, for lookups; the audit compares
    device_seq   bigint      NOT NULL CHECK (device_seq >= 0),  -- each of these three with the entry bytes
    entry_type   text        NOT NULL,
    appended_at  timestamptz NOT NULL DEFAULT now(),  -- not evidence: see below
    -- One entry per (device, seq): a second appender racing for the same slot fails instead of forking.
    UNIQUE (device_id, device_seq)
);

-- Complete-subtree hashes at every 4th level (4, 8, 12, ...); level 0 is evidence_entries.leaf_hash and the
-- levels in between are rebuilt from at most 8 stored children. ~n/15 rows for n leaves, and a proof reads
-- at most ~20 * 8 rows by primary key.
CREATE TABLE evidence_nodes (
    level  smallint NOT NULL CHECK (level > 0 AND level % 4 = 0),
    pos    bigint   NOT NULL CHECK (pos >= 0),
    hash   bytea    NOT NULL CHECK (octet_length(hash) = 32),
    PRIMARY KEY (level, pos)
);

-- Each sequencer batch: the tree size it reached and the RFC 6962 root.
CREATE TABLE evidence_tree_heads (
    size           bigint      PRIMARY KEY CHECK (size >= 0),
    root           bytea       NOT NULL CHECK (octet_length(root) = 32),
    integrated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every signed checkpoint, forever (C2SP signed note over a tlog-checkpoint body).
CREATE TABLE evidence_checkpoints (
    size       bigint      PRIMARY KEY CHECK (size >= 0),
    root       bytea       NOT NULL CHECK (octet_length(root) = 32),
    note       text        NOT NULL,
    key_id     bytea       NOT NULL CHECK (octet_length(key_id) = 4),
    signed_at  timestamptz NOT NULL DEFAULT now()
);

-- RFC 3161 tokens over a checkpoint's note text (none until a TSA is configured).
CREATE TABLE evidence_timestamps (
    id               bigserial   PRIMARY KEY,
    checkpoint_size  bigint      NOT NULL REFERENCES evidence_checkpoints (size),
    tsa              text        NOT NULL,
    token            bytea       NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now()
);

-- Witness cosignatures (c2sp tlog-cosignature) on a checkpoint: the signature line as received.
CREATE TABLE evidence_cosignatures (
    id               bigserial   PRIMARY KEY,
    checkpoint_size  bigint      NOT NULL REFERENCES evidence_checkpoints (size),
    key_name         text        NOT NULL,
    key_id           bytea       NOT NULL CHECK (octet_length(key_id) = 4),
    signature_line   text        NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (checkpoint_size, key_name, key_id)
);

CREATE FUNCTION evidence_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'evidence tables are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['evidence_entries', 'evidence_nodes', 'evidence_tree_heads', 'evidence_checkpoints',
                             'evidence_timestamps', 'evidence_cosignatures'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW '
                       'EXECUTE FUNCTION evidence_refuse_change()', t || '_append_only', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT '
                       'EXECUTE FUNCTION evidence_refuse_change()', t || '_no_truncate', t);
        EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %I FROM PUBLIC', t);
    END LOOP;
END
$$;
