-- Environmental quality standards (GB 3096, GB 3095, GB 3838) say what the environment should be, not what anyone
-- may emit: their exceedances are a class of their own, stored and shown, never a violation clue that becomes a
-- case. Existing rows are classed by the standard their detail cites.
ALTER TABLE alerts ADD COLUMN category text NOT NULL DEFAULT 'violation'
    CHECK (category IN ('violation', 'quality_exceedance'));

UPDATE alerts SET category = 'quality_exceedance'
 WHERE source = 'sensor'
   AND (detail->>'standard' LIKE 'GB 3096%' OR detail->>'standard' LIKE 'GB 3095%'
        OR detail->>'standard' LIKE 'GB 3838%');

-- A quality exceedance can be reviewed or dismissed but never confirmed into a case. NOT VALID: a row confirmed
-- before this rule existed stays as it was recorded (it is history); every new or changed row is held to it.
ALTER TABLE alerts ADD CONSTRAINT alerts_quality_never_confirmed
    CHECK (category = 'violation' OR status <> 'confirmed') NOT VALID;

CREATE INDEX alerts_category_time ON alerts (category, start_time DESC);

COMMENT ON COLUMN alerts.category IS
    'violation: an emission limit exceeded (a clue that may become a case); quality_exceedance: an environmental '
    'quality standard exceeded (GB 3096/3095/3838), shown and stored, never confirmed into a case';
