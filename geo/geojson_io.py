"""GeoJSON (RFC 7946) import/export of zones, with CRS conversion and a DataV adapter.

This is the API the ``enforcegw zones import/export`` CLI and the PostgreSQL store call:

* :func:`load_zones` takes a FeatureCollection as a dict, ``bytes`` or ``str`` and returns
  ``LoadResult(zones, problems, fixes)`` (a NamedTuple, so it unpacks). ``crs="gcj02"``/``"bd09"``
  converts positions to WGS84 on the way in (edges densified to <= 500 m first, because the GCJ
  offset is nonlinear); the zone keeps ``source_crs`` as provenance.
* :func:`dump_zones` returns a FeatureCollection dict, WGS84 by default. ``crs="gcj02"`` exports
  for vendor map SDKs; such a file is *not* RFC 7946 (which allows WGS84 only), so the collection
  carries the foreign member ``"enforcegw_crs"`` naming the CRS.
* :func:`load_datav` adapts Aliyun DataV ``*_full.geojson`` boundary files (GCJ-02 coordinates,
  properties ``adcode``, ``name``, ``level``, ``parent``, ``center``...). Mapping:

  ========================  ========================================================
  Zone field                DataV source
  ========================  ========================================================
  ``id``                    ``str(adcode)``
  ``name``                  ``name``
  ``kind``                  ``"jurisdiction"`` (parameter)
  ``enforcement_subject``   ``code = str(adcode)``, ``name = name + "综合行政执法局"``
  ``priority``              by ``level``: province 10, city 20, district 30, street 40
                            (a more local bureau wins where boundaries overlap)
  ``attributes``            ``adcode``, ``level``, ``parent_adcode``, ``acroutes``,
                            ``datav_source = True``
  ========================  ========================================================

  ``center``/``centroid`` are dropped on purpose: they are GCJ-02 points and would silently mix
  CRSs in a WGS84 store.

Properties schema of a zone Feature (all in ``properties``; ``id`` may also be the Feature id):
``id, name, kind, enforcement_subject {code, name}, enforcement_items [codes], schedule {tz,
weekdays, hours [{start, end}], start_date, end_date, exclude_dates}, priority, dwell_s, classes,
exit_buffer_m, exit_min_s, lower_m, upper_m, source_crs``; anything else is kept in
``Zone.attributes`` and written back on export.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import shapely
from shapely.geometry import shape

from geo.crs import Crs, convert_geometry, parse_crs
from geo.zones import BUILTIN_KINDS, Fix, Problem, Zone, _geojson, zone_from_feature

DATAV_LEVEL_PRIORITY = {"country": 0, "province": 10, "city": 20, "district": 30, "street": 40}
DEFAULT_SUBJECT_SUFFIX = "综合行政执法局"


class LoadResult(NamedTuple):
    """Outcome of an import: the valid zones, the problems per feature, the repairs applied."""

    zones: list[Zone]
    problems: list[Problem]
    fixes: list[Fix]

    @property
    def errors(self) -> list[Problem]:
        """Problems that caused a feature to be skipped."""
        return [p for p in self.problems if p.severity == "error"]


def _features(data: dict[str, Any] | bytes | str) -> list[Any]:
    """The features of the FeatureCollection in `data` (a dict, or JSON text or bytes); ValueError when it is
    not one."""
    if isinstance(data, bytes | bytearray):
        data = data.decode("utf-8-sig")
    doc = json.loads(data) if isinstance(data, str) else data
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ValueError("expected a GeoJSON FeatureCollection object")
    features = doc.get("features")
    if not isinstance(features, list):
        raise ValueError("FeatureCollection.features must be an array")
    return features


def load_zones(
    data: dict[str, Any] | bytes | str,
    *,
    crs: str | Crs = Crs.WGS84,
    fix: bool = False,
    kinds: Collection[str] = BUILTIN_KINDS,
) -> LoadResult:
    """Load a zone FeatureCollection; invalid features are reported (by index) and skipped. A kind not in
    ``kinds`` is an ``unknown_kind`` problem; the gateway passes its catalogue's (gateway.catalogue.zone_kinds).

    Raises ``ValueError`` only when the input is not JSON or not a FeatureCollection at all.
    """
    src = parse_crs(crs)
    features = _features(data)
    zones: list[Zone] = []
    problems: list[Problem] = []
    fixes: list[Fix] = []
    seen: dict[str, int] = {}
    for index, feature in enumerate(features):
        zone, probs, fx = zone_from_feature(feature, index, fix=fix, crs=src, kinds=kinds)
        if zone is not None and src == Crs.WGS84:
            declared = (feature.get("properties") or {}).get("source_crs")
            if declared:  # keep provenance from an earlier export
                with contextlib.suppress(ValueError):
                    zone = zone.model_copy(update={"source_crs": parse_crs(declared).value})
        problems.extend(probs)
        fixes.extend(fx)
        if zone is None:
            continue
        if zone.id in seen:
            problems.append(
                Problem(
                    index,
                    zone.id,
                    "duplicate_id",
                    f"zone id {zone.id!r} already used by feature {seen[zone.id]}",
                )
            )
            continue
        seen[zone.id] = index
        zones.append(zone)
    return LoadResult(zones, problems, fixes)


def load_zones_file(path: str | Path, *, crs: str | Crs = Crs.WGS84, fix: bool = False,
                    kinds: Collection[str] = BUILTIN_KINDS) -> LoadResult:
    """:func:`load_zones` on a file's bytes."""
    return load_zones(Path(path).read_bytes(), crs=crs, fix=fix, kinds=kinds)


def _round(coords: Any, ndigits: int) -> Any:
    if isinstance(coords, list) and coords and isinstance(coords[0], float | int):
        return [round(float(c), ndigits) for c in coords]
    return [_round(c, ndigits) for c in coords]


def zone_to_feature(zone: Zone, *, crs: str | Crs = Crs.WGS84, precision: int | None = 7) -> dict[str, Any]:
    """One zone as a GeoJSON Feature (geometry converted to ``crs``, rounded to ``precision`` decimals)."""
    dst = parse_crs(crs)
    geometry = zone.geometry
    if dst != Crs.WGS84:
        geom = shapely.orient_polygons(convert_geometry(shape(geometry), Crs.WGS84, dst), exterior_cw=False)
        geometry = _geojson(geom)
    if precision is not None:
        geometry = {"type": geometry["type"], "coordinates": _round(geometry["coordinates"], precision)}
    props = dict(zone.attributes)
    props.update(zone.model_dump(mode="json", exclude={"geometry", "attributes"}, exclude_none=True))
    return {"type": "Feature", "id": zone.id, "geometry": geometry, "properties": props}


def dump_zones(zones: Iterable[Zone], *, crs: str | Crs = Crs.WGS84, precision: int | None = 7) -> dict[str, Any]:
    """Zones as a FeatureCollection dict (RFC 7946 when ``crs`` is WGS84)."""
    dst = parse_crs(crs)
    fc: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": [zone_to_feature(z, crs=dst, precision=precision) for z in zones],
    }
    if dst != Crs.WGS84:
        fc["enforcegw_crs"] = dst.value
    return fc


def datav_feature_to_zone_feature(
    feature: Any, *, kind: str = "jurisdiction", subject_suffix: str = DEFAULT_SUBJECT_SUFFIX
) -> Any:
    """Rewrite one DataV feature's properties into the zone schema (geometry untouched)."""
    if not isinstance(feature, dict):
        return feature
    props = feature.get("properties") or {}
    adcode = props.get("adcode")
    name = str(props.get("name") or "")
    level = props.get("level")
    parent = props.get("parent")
    out: dict[str, Any] = {"kind": kind, "name": name, "priority": DATAV_LEVEL_PRIORITY.get(level, 0)}
    if adcode is not None and adcode != "":
        code = str(adcode)
        out["id"] = code
        out["enforcement_subject"] = {"code": code, "name": name + subject_suffix}
    out["adcode"] = adcode
    out["level"] = level
    if isinstance(parent, dict) and "adcode" in parent:
        out["parent_adcode"] = parent["adcode"]
    if "acroutes" in props:
        out["acroutes"] = props["acroutes"]
    out["datav_source"] = True
    return {"type": feature.get("type"), "geometry": feature.get("geometry"), "properties": out}


def load_datav(
    data: dict[str, Any] | bytes | str,
    *,
    crs: str | Crs = Crs.GCJ02,
    fix: bool = True,
    kind: str = "jurisdiction",
    subject_suffix: str = DEFAULT_SUBJECT_SUFFIX,
    kinds: Collection[str] = BUILTIN_KINDS,
) -> LoadResult:
    """Import a DataV administrative-boundary FeatureCollection as jurisdiction zones (see module doc)."""
    features = [datav_feature_to_zone_feature(f, kind=kind, subject_suffix=subject_suffix) for f in _features(data)]
    return load_zones({"type": "FeatureCollection", "features": features}, crs=crs, fix=fix, kinds=kinds)
