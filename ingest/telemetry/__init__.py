"""Telemetry from files (flight subtitles, autopilot logs, photo metadata) to poses: one module per concept.

Import each name from the module that defines it:

    ingest.telemetry.detect       detect_format(bytes) and parse_telemetry(bytes, tz=, start=, device_id=)
                                  -> ParsedTelemetry; the format comes from the content, never the file name
    ingest.telemetry.records      ParsedTelemetry(format, poses, refusals), Refusal(index, reason, detail,
                                  position_only), TelemetryFileError (a file refused whole)
    ingest.telemetry.srt          DJI .SRT subtitles, bracketed ("dji_srt_bracketed") and plain ("dji_srt")
    ingest.telemetry.tlog         MAVLink .tlog through pymavlink ("mavlink_tlog")
    ingest.telemetry.xmp          DJI photo EXIF and XMP -> PhotoMeta, photo_pose
    ingest.telemetry.pose_import  store_poses(conn, poses) into `poses`: stored / duplicate counts,
                                  UnknownDeviceError for a device not in the registry

Reason codes of refused records: `unparsable_cue`, `bad_time`, `no_time` (SRT), `bad_data`, `other_vehicle`,
`unreadable` (tlog); of refused positions (the pose is kept without a fix): `no_position`, `bad_position`; of
whole files: `unknown_format`, `no_date` (an SRT with no date needs the recording's start).
"""
