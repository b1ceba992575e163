-- Geofences (GeoJSON, WGS84). The whole validated zone is kept as JSON (`spec`); the columns beside it are
-- what queries filter on. Geometry stays JSON because the gateway indexes zones in memory (shapely STRtree)
-- and PostGIS is not assumed.
CREATE TABLE zones (
    id          text PRIMARY KEY,
    kind        text    NOT NULL,
    name        text    NOT NULL,
    priority    integer NOT NULL DEFAULT 0,
    subject_code text,
    spec        jsonb   NOT NULL,
    source_crs  text    NOT NULL DEFAULT 'wgs84',
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX zones_kind ON zones (kind);

-- Where each device's fixed location falls (set on device import; 'unassigned' is flagged, not hidden).
ALTER TABLE devices ADD COLUMN jurisdiction_status text;
ALTER TABLE devices ADD COLUMN zone_ids text[] NOT NULL DEFAULT '{}';

-- Gateways reload their zone index when this fires.
CREATE FUNCTION zones_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('enforcegw_zones', '');
    RETURN NULL;
END $$;
CREATE TRIGGER zones_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON zones
    FOR EACH STATEMENT EXECUTE FUNCTION zones_changed();
