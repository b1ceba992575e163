-- Originals sealed for auditors: a video alert's unredacted snapshot and clip. Operators and case systems are
-- given the redacted rendition named here instead (GET /api/media answers 403 sealed_original to them).
-- Written in the same transaction as the evidence entry that holds the original.
CREATE TABLE sealed_media (
    sha256            text        PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    rendition_sha256  text        CHECK (rendition_sha256 ~ '^[0-9a-f]{64}$'),
    reason            text        NOT NULL,
    sealed_at         timestamptz NOT NULL DEFAULT now()
);
