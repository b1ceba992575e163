-- Registry changes are evidence (art. 41: which device was approved and calibrated, when). The hash of the
-- canonical device record tells an import that changes nothing from one that must be recorded.
ALTER TABLE devices ADD COLUMN spec_sha256 text;
