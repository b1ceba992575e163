-- One open alert per (device, rule, zone) holds for a sensor: its rule judges one signal. A camera or a drone
-- sees several objects at once (two cars parked in one street), each its own alert: for video the subject is the
-- track, and `engine_alert_id` (unique) already names one alert per (stream, rule, zone, track).
DROP INDEX alerts_one_open;
CREATE UNIQUE INDEX alerts_one_open ON alerts (device_id, rule_id, coalesce(zone_id, ''))
    WHERE end_time IS NULL AND source <> 'video';
