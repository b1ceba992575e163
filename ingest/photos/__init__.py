"""Patrol photo sets: one module per concept; import each name from the module that defines it.

    ingest.photos.importer  PhotoImporter: each photo stored under its hash, its pose from XMP/EXIF into `poses`,
                            its footprint (the caller's geometry), its frame to the detection stage; PhotoOutcome

The metadata parser is `ingest.telemetry.xmp` (PhotoMeta, photo_pose), shared with telemetry import.
"""
