"""Pure geo package: zones (GeoJSON, schedules), STRtree registry, fence events, pixel -> ground projection,
WGS84/GCJ-02/BD-09 conversion, the WGS84 ellipsoid, jurisdiction routing and no-fly checks.

No database and no network: the store and CLI call :mod:`geo.geojson_io` and :class:`geo.registry.ZoneRegistry`.
Import from the defining module; this package re-exports nothing, so importing one module loads only what it needs.
"""
