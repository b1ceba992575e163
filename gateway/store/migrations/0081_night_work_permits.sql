-- Night-work permits (Noise Law 2022 art. 43): a site zone may build at night only with a certificate from the
-- local housing-and-construction or ecology-and-environment department; while one is valid, the night-construction
-- rule does not flag that zone. Imported by `enforcegw permits import`; an expired permit is kept (it is history).
CREATE TABLE night_work_permits (
    issuing_body text NOT NULL CHECK (btrim(issuing_body) <> ''),
    reference text NOT NULL CHECK (btrim(reference) <> ''),
    zone_id text NOT NULL,
    valid_from timestamptz NOT NULL,
    valid_until timestamptz NOT NULL,
    imported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuing_body, reference),
    CHECK (valid_until > valid_from)
);
CREATE INDEX night_work_permits_zone ON night_work_permits (zone_id, valid_until);
COMMENT ON COLUMN night_work_permits.valid_until IS 'end of validity, exclusive';
