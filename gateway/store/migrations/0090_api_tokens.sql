-- Console API tokens. Only the SHA-256 of each secret is kept: the secret is 32 random bytes, so a plain hash
-- is enough (no password stretching needed) and a leaked table yields no usable token. A token is never
-- deleted, only revoked, so the audit log and review evidence keep naming a token that exists.
CREATE TABLE api_tokens (
    id bigserial PRIMARY KEY,
    name text NOT NULL CHECK (btrim(name) <> ''),
    role text NOT NULL CHECK (role IN ('operator', 'supervisor', 'auditor', 'admin', 'device')),
    secret_sha256 bytea NOT NULL UNIQUE CHECK (length(secret_sha256) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz
);
COMMENT ON COLUMN api_tokens.name IS 'who holds it (a person) or, for role device, the device id it may ingest for';
COMMENT ON COLUMN api_tokens.expires_at IS 'NULL: no expiry';

-- Every state-changing API request, allowed or refused (Administrative Penalty Law art. 47: the whole process
-- is recorded). Token fields are copied, not only referenced, so a row stays readable whatever the token
-- becomes; a refused request may have no token at all.
CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    time timestamptz NOT NULL DEFAULT now(),
    token_id bigint REFERENCES api_tokens (id),
    token_name text,
    role text,
    action text NOT NULL,
    target text NOT NULL,
    result text NOT NULL,
    status integer NOT NULL,
    address text
);
CREATE INDEX audit_log_time ON audit_log (time, id);
COMMENT ON COLUMN audit_log.action IS 'method and route, e.g. POST /api/alerts/{clue_code}/claim';
COMMENT ON COLUMN audit_log.result IS 'allowed, or why refused (unauthenticated, forbidden, rate_limited, ...)';
