"""Zone model and per-feature validation (problems and fixes).

A :class:`Zone` is what the rest of the gateway stores and queries: an id, a kind, a WGS84 polygon
(kept as an RFC 7946 GeoJSON dict so the model round-trips through JSON and PostgreSQL unchanged),
an enforcement subject and items, a schedule, a priority and rule parameters.

Validation never raises for bad data; it returns :class:`Problem` records with the feature index,
zone id (when known), a stable ``code`` and a human message, so an import can report all issues at
once. ``fix=True`` repairs what can be repaired without guessing (``shapely.make_valid``, ring
orientation, unclosed rings) and records each repair as a :class:`Fix`. Swapped lat/lon is *not*
auto-fixed: it is only detected, because a swap can also be a legitimately far-away zone.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal

import shapely
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator
from shapely.geometry import mapping, shape
from shapely.validation import explain_validity

from geo.crs import Crs, convert_geometry, parse_crs
from geo.geodesy import metres_per_degree
from geo.schedule import Schedule

# Kinds geo itself knows. The rule catalogue names more (catering, surface_water_class_III, ...), but geo must
# not import detectors, so an import is handed the kinds it accepts (`kinds=`; gateway.catalogue.zone_kinds gives
# the gateway's). The kind is checked when a feature is imported, not when a Zone is built: a stored zone is
# trusted as stored, so any process reads the store back without first learning the importer's catalogue.
BUILTIN_KINDS: frozenset[str] = frozenset(
    {
        "jurisdiction",
        "no_parking",
        "no_vending",
        "river_protection",
        "construction_site",
        "dumping_watch",
        "no_fly",
        "noise_class_0",
        "noise_class_1",
        "noise_class_2",
        "noise_class_3",
        "noise_class_4a",
        "noise_class_4b",
        "burning_watch",
        "restricted_flight",
        "patrol_area",
    }
)

# Stable reason codes (problems) and fix codes; tests and the import CLI rely on them.
ProblemCode = Literal[
    "not_a_feature",
    "missing_geometry",
    "unsupported_geometry",
    "malformed_coordinates",
    "ring_not_closed",
    "too_few_points",
    "coordinates_out_of_range",
    "likely_swapped_lat_lon",
    "self_intersection",
    "invalid_geometry",
    "unfixable_geometry",
    "wrong_winding",
    "missing_id",
    "duplicate_id",
    "unknown_kind",
    "invalid_properties",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one input feature. ``severity="error"`` means the feature was skipped."""

    index: int
    zone_id: str | None
    code: str
    message: str
    severity: Literal["error", "warning"] = "error"


@dataclass(frozen=True, slots=True)
class Fix:
    """One repair applied to one input feature (``fix=True``)."""

    index: int
    zone_id: str | None
    code: str  # "made_valid", "rewound", "closed_ring"
    message: str


class EnforcementSubject(BaseModel):
    """The bureau or sub-bureau with legal authority (执法主体)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(description="Subject code from the provincial factor library (or adcode-based).")
    name: str = Field(description="Subject name, e.g. 禅城区综合行政执法局.")


class Zone(BaseModel):
    """A geofence with its rule. ``geometry`` is a GeoJSON Polygon/MultiPolygon dict in WGS84."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, description="Stable zone id (GeoJSON Feature id or properties.id).")
    name: str = Field(default="", description="Human-readable zone name.")
    kind: str = Field(min_length=1, description=f"Zone kind: one of {sorted(BUILTIN_KINDS)} or a kind the rule "
                      "catalogue names (checked on import, see BUILTIN_KINDS).")
    geometry: dict[str, Any] = Field(
        repr=False, description="RFC 7946 GeoJSON Polygon or MultiPolygon in WGS84 lon/lat, exterior rings CCW."
    )
    enforcement_subject: EnforcementSubject | None = Field(
        default=None, description="Enforcement subject responsible for this zone."
    )
    enforcement_items: tuple[str, ...] = Field(
        default=(), description="Codes of enforcement items (执法事项) this zone's rule concerns."
    )
    schedule: Schedule | None = Field(default=None, description="When the rule applies; None = always.")
    priority: int = Field(default=0, description="Higher wins when zones overlap (then the smaller area).")
    dwell_s: float | None = Field(default=None, ge=0, description="Dwell threshold in seconds for dwell events.")
    classes: tuple[str, ...] = Field(default=(), description="Object classes the rule applies to (empty = all).")
    exit_buffer_m: float | None = Field(
        default=None,
        ge=0,
        description="Hysteresis: the track must leave the zone by this many metres to exit.",
    )
    exit_min_s: float | None = Field(
        default=None,
        ge=0,
        description="Hysteresis: minimum time beyond the exit buffer before exit is emitted.",
    )
    lower_m: float | None = Field(default=None, description="Vertical lower limit, metres AGL (no_fly).")
    upper_m: float | None = Field(default=None, description="Vertical upper limit, metres AGL (no_fly).")
    source_crs: str = Field(default="wgs84", description="CRS the zone was imported from (provenance only).")
    attributes: dict[str, Any] = Field(
        default_factory=dict, description="Other GeoJSON properties, kept verbatim for round-trips."
    )

    _shape: Any = PrivateAttr(default=None)
    _shape_for: Any = PrivateAttr(default=None)  # the geometry dict _shape was built from

    def __eq__(self, other: object) -> bool:
        # Compare data only: the cached shapely geometry in a private attribute must not matter.
        return isinstance(other, Zone) and self.model_dump() == other.model_dump()

    def __hash__(self) -> int:
        return hash((self.id, self.kind))

    @field_validator("geometry")
    @classmethod
    def _polygonal(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type") not in ("Polygon", "MultiPolygon"):
            raise ValueError("geometry must be a GeoJSON Polygon or MultiPolygon")
        return value

    @property
    def shape(self) -> Any:
        """The shapely geometry (built once, prepared for repeated predicates)."""
        # keyed on the dict's identity so model_copy(update={"geometry": ...}) cannot serve a stale shape
        if self._shape is None or self._shape_for is not self.geometry:
            geom = shape(self.geometry)
            shapely.prepare(geom)
            self._shape = geom
            self._shape_for = self.geometry
        return self._shape

    @classmethod
    def from_shape(cls, geom: Any, **fields: Any) -> Zone:
        """Build a zone from a shapely (WGS84) geometry; orientation is normalised to RFC 7946."""
        geom = shapely.orient_polygons(geom, exterior_cw=False)
        zone = cls(geometry=_geojson(geom), **fields)
        shapely.prepare(geom)
        zone._shape = geom  # same coordinates as ``geometry``; saves re-parsing the dict
        zone._shape_for = zone.geometry
        return zone

    def area_m2(self) -> float:
        """Approximate area in square metres (local scale at the centroid; fine for tie-breaks)."""
        return degree_area_to_m2(self.shape.area, self.shape.centroid.y)


def degree_area_to_m2(area_deg2: Any, lat: Any) -> Any:
    """Convert an area in square degrees to square metres at latitude ``lat`` (the ellipsoid's local scale).

    Works on floats and numpy arrays.
    """
    east, north = metres_per_degree(lat)
    return area_deg2 * east * north


def _geojson(geom: Any) -> dict[str, Any]:
    g = mapping(geom)
    return {"type": g["type"], "coordinates": _lists(g["coordinates"])}


def _lists(x: Any) -> Any:
    if isinstance(x, list | tuple):
        if x and isinstance(x[0], int | float):
            return [float(c) for c in x]
        return [_lists(i) for i in x]
    return x


# --- geometry checks ---------------------------------------------------------------------------------


def _rings(geometry: dict[str, Any]) -> list[list[Any]]:
    """All rings of a Polygon/MultiPolygon coordinate structure (structure assumed checked)."""
    if geometry["type"] == "Polygon":
        return list(geometry["coordinates"])
    return [ring for poly in geometry["coordinates"] for ring in poly]


def _check_structure(geometry: Any) -> tuple[str, str] | None:
    """Return (code, message) when the coordinate structure is unusable, else None."""
    if not isinstance(geometry, dict) or "type" not in geometry:
        return "missing_geometry", "feature has no geometry object"
    gtype = geometry.get("type")
    if gtype not in ("Polygon", "MultiPolygon"):
        return "unsupported_geometry", f"geometry type {gtype!r} is not Polygon or MultiPolygon"
    coords = geometry.get("coordinates")
    try:
        polys = [coords] if gtype == "Polygon" else list(coords)
        if not polys:
            return "malformed_coordinates", "no polygons in coordinates"
        for poly in polys:
            if not poly:
                return "malformed_coordinates", "polygon without rings"
            for ring in poly:
                for pos in ring:
                    if len(pos) < 2 or not all(isinstance(c, int | float) and math.isfinite(c) for c in pos[:2]):
                        return "malformed_coordinates", f"bad position {pos!r}"
    except TypeError:
        return "malformed_coordinates", "coordinates are not nested arrays of positions"
    return None


def check_geometry(
    geometry: Any, index: int, zone_id: str | None, *, fix: bool, crs: Crs | str = Crs.WGS84
) -> tuple[Any | None, list[Problem], list[Fix]]:
    """Validate (and optionally repair) one GeoJSON geometry given in ``crs``.

    Returns (shapely geometry in WGS84 with CCW exteriors or None, problems, fixes).
    """
    problems: list[Problem] = []
    fixes: list[Fix] = []

    def prob(code: str, msg: str, severity: Literal["error", "warning"] = "error") -> None:
        problems.append(Problem(index, zone_id, code, msg, severity))

    bad = _check_structure(geometry)
    if bad:
        prob(*bad)
        return None, problems, fixes
    rings = _rings(geometry)
    # ring closure / size
    closed_rings_needed = False
    for ring in rings:
        if len(ring) >= 1 and list(ring[0][:2]) != list(ring[-1][:2]):
            closed_rings_needed = True
            if not fix:
                prob(
                    "ring_not_closed",
                    f"ring starting at {ring[0][:2]} is not closed (first != last position)",
                )
                return None, problems, fixes
        n_distinct = len(ring) - (0 if closed_rings_needed else 1)
        if n_distinct < 3:
            prob("too_few_points", f"ring has {len(ring)} positions; a closed ring needs at least 4")
            return None, problems, fixes
    # coordinate range (lat/lon swapped shows up here)
    out = [p for ring in rings for p in ring if not (-180 <= p[0] <= 180 and -90 <= p[1] <= 90)]
    if out:
        swapped_ok = all(-180 <= p[1] <= 180 and -90 <= p[0] <= 90 for p in out)
        prob(
            "coordinates_out_of_range",
            f"{len(out)} position(s) outside lon [-180, 180] / lat [-90, 90], first {out[0][:2]}"
            + ("; they look like [lat, lon] (swapped); GeoJSON positions are [lon, lat]" if swapped_ok else ""),
        )
        return None, problems, fixes
    if closed_rings_needed:
        geometry = _close_rings(geometry)
        fixes.append(Fix(index, zone_id, "closed_ring", "appended the first position to close open ring(s)"))
    try:
        geom = shape(geometry)
    except Exception as exc:  # shapely raises several types on malformed input
        prob("malformed_coordinates", f"cannot build geometry: {exc}")
        return None, problems, fixes
    # validity
    if not shapely.is_valid(geom):
        reason = explain_validity(geom)
        code = "self_intersection" if "self-intersection" in reason.lower() else "invalid_geometry"
        if not fix:
            prob(code, f"invalid polygon: {reason}")
            return None, problems, fixes
        repaired = _polygonal_part(shapely.make_valid(geom))
        if repaired is None or repaired.is_empty:
            prob("unfixable_geometry", f"make_valid left no polygonal area ({reason})")
            return None, problems, fixes
        fixes.append(Fix(index, zone_id, "made_valid", f"repaired with shapely.make_valid ({reason})"))
        geom = repaired
    # winding (RFC 7946: exterior CCW, holes CW; parsers should not reject, so only a warning)
    if _wrongly_wound(geom):
        if fix:
            fixes.append(Fix(index, zone_id, "rewound", "rewound rings to RFC 7946 (exterior CCW, holes CW)"))
        else:
            prob(
                "wrong_winding",
                "ring orientation is not RFC 7946 (exterior counter-clockwise, holes clockwise)",
                "warning",
            )
    geom = shapely.orient_polygons(geom, exterior_cw=False)
    src = parse_crs(crs)
    if src != Crs.WGS84:
        geom = convert_geometry(geom, src, Crs.WGS84)
        if not shapely.is_valid(geom):  # a tiny sliver can cross after a nonlinear shift
            geom = _polygonal_part(shapely.make_valid(geom))
            if geom is None or geom.is_empty:
                prob("unfixable_geometry", "geometry became empty after CRS conversion")
                return None, problems, fixes
        geom = shapely.orient_polygons(geom, exterior_cw=False)
    return geom, problems, fixes


def _wrongly_wound(geom: Any) -> bool:
    """True when an exterior ring is clockwise or a hole counter-clockwise (RFC 7946 §3.1.6)."""
    polys = [geom] if geom.geom_type == "Polygon" else list(geom.geoms)
    return any(not p.exterior.is_ccw or any(r.is_ccw for r in p.interiors) for p in polys)


def _close_rings(geometry: dict[str, Any]) -> dict[str, Any]:
    def close(ring: list[Any]) -> list[Any]:
        return list(ring) if list(ring[0][:2]) == list(ring[-1][:2]) else [*ring, ring[0]]

    if geometry["type"] == "Polygon":
        return {"type": "Polygon", "coordinates": [close(r) for r in geometry["coordinates"]]}
    return {"type": "MultiPolygon", "coordinates": [[close(r) for r in p] for p in geometry["coordinates"]]}


def _polygonal_part(geom: Any) -> Any | None:
    """Keep only polygon parts (make_valid can return collections with lines/points)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    if geom.geom_type == "GeometryCollection":
        parts = [g for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
        if not parts:
            return None
        return shapely.union_all(parts)
    return None


# --- properties -> Zone ------------------------------------------------------------------------------

_ZONE_FIELDS = set(Zone.model_fields) - {"geometry", "attributes", "id"}


def zone_from_feature(
    feature: Any, index: int, *, fix: bool = False, crs: Crs | str = Crs.WGS84,
    kinds: Collection[str] = BUILTIN_KINDS,
) -> tuple[Zone | None, list[Problem], list[Fix]]:
    """Validate one GeoJSON Feature and build a :class:`Zone` (or report why not); its kind must be in `kinds`."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return None, [Problem(index, None, "not_a_feature", "item is not a GeoJSON Feature object")], []
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        return None, [Problem(index, None, "invalid_properties", "properties is not an object")], []
    raw_id = props.get("id", feature.get("id"))
    zone_id = None if raw_id is None or raw_id == "" else str(raw_id)
    problems: list[Problem] = []
    if zone_id is None:
        problems.append(Problem(index, None, "missing_id", "feature has neither id nor properties.id"))
    kind = props.get("kind")
    if not isinstance(kind, str) or kind not in kinds:
        problems.append(Problem(index, zone_id, "unknown_kind", f"unknown kind {kind!r}"))
    geom, gprobs, fixes = check_geometry(feature.get("geometry"), index, zone_id, fix=fix, crs=crs)
    problems.extend(gprobs)
    if geom is None or any(p.severity == "error" for p in problems):
        return None, problems, fixes
    fields = {k: v for k, v in props.items() if k in _ZONE_FIELDS}
    attributes = {k: v for k, v in props.items() if k not in _ZONE_FIELDS and k != "id"}
    fields["source_crs"] = parse_crs(crs).value
    try:
        zone = Zone.from_shape(geom, id=zone_id, attributes=attributes, **fields)
    except ValidationError as exc:
        msgs = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        problems.append(Problem(index, zone_id, "invalid_properties", msgs))
        return None, problems, fixes
    return zone, problems, fixes
