"""DJI Cloud API adapter (dock / Pilot 2 to cloud over MQTT): one module per concept.

Split by concept so each part stays small; import each name from the module that defines it:

    ingest.dji.envelope  envelope `{tid, bid, timestamp, gateway, data}` decoding and timestamp checks
    ingest.dji.osd       osd/state -> Pose mapping, primary payload/gimbal selection
    ingest.dji.state     DockStateMerger (partial state merging, gateway -> aircraft SN) and the device state
                         and topology records
    ingest.dji.events    drc/up, events and status (topology) messages published under the gateway SN

Topics handled (the router resolves them; `{sn}` is the device's own SN for osd/state, else the gateway SN):

    thing/product/{sn}/osd | /state   parse_dji_osd     -> DjiOsdResult(pose | None, state record)
    thing/product/{gw}/drc/up         parse_dji_drc     -> Pose (osd_info_push) or DjiDrcRecord (others)
    thing/product/{gw}/events         parse_dji_event   -> DjiEvent
    sys/product/{gw}/status           parse_dji_status  -> DjiTopology (method update_topo)

Failure reason codes, in addition to those of `ingest.decode`: `unsupported_method`, `bad_device_id`.
"""
