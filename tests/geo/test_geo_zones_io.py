"""Zone import/export: the invalid-input corpus with reason codes, fixes, CRS round trips, DataV mapping."""

from __future__ import annotations

import json
from typing import Any

import pytest
import shapely
from shapely.geometry import shape

from geo.crs import gcj02_to_wgs84, wgs84_to_gcj02
from geo.geodesy import distance_m
from geo.geojson_io import dump_zones, load_datav, load_zones
from geo.zones import BUILTIN_KINDS, Zone
from testkit.geo_testdata import FOSHAN, require

CCW = [[113.10, 23.00], [113.11, 23.00], [113.11, 23.01], [113.10, 23.01], [113.10, 23.00]]
CW = list(reversed(CCW))
BOWTIE = [[113.10, 23.00], [113.11, 23.01], [113.11, 23.00], [113.10, 23.01], [113.10, 23.00]]
SWAPPED = [[lat, lon] for lon, lat in CCW]
OPEN = CCW[:-1]


def feat(coords: Any = None, *, gtype: str = "Polygon", **props: Any) -> dict[str, Any]:
    base = {"id": "z1", "name": "zone", "kind": "no_vending"}
    base.update(props)
    geometry = None if coords is None else {"type": gtype, "coordinates": coords}
    return {"type": "Feature", "geometry": geometry, "properties": base}


def fc(*features: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


# (feature, expected code, message fragment, fixable with fix=True -> fix code or None)
CORPUS = [
    (feat([BOWTIE]), "self_intersection", "Self-intersection", "made_valid"),
    (feat([SWAPPED]), "coordinates_out_of_range", "swapped", None),
    (feat([[[200.0, 23.0], [201.0, 23.0], [201.0, 24.0], [200.0, 23.0]]]), "coordinates_out_of_range", "outside", None),
    (feat([CCW], kind="no_smoking"), "unknown_kind", "no_smoking", None),
    (feat([CCW], kind=None), "unknown_kind", "None", None),
    (feat([OPEN]), "ring_not_closed", "not closed", "closed_ring"),
    (feat([[CCW[0], CCW[1], CCW[0]]]), "too_few_points", "at least 4", None),
    (feat(None), "missing_geometry", "no geometry", None),
    (feat([113.1, 23.0], gtype="Point"), "unsupported_geometry", "Point", None),
    (feat([["a", "b"]]), "malformed_coordinates", "bad position", None),
    (feat([CCW], id=None), "missing_id", "id", None),
    (feat([CCW], schedule={"hours": [{"start": "7am", "end": "9pm"}]}), "invalid_properties", "schedule", None),
    (feat([CCW], priority="high"), "invalid_properties", "priority", None),
    ({"type": "Point", "coordinates": [1, 2]}, "not_a_feature", "not a GeoJSON Feature", None),
]


@pytest.mark.parametrize(("feature", "code", "fragment", "fix_code"), CORPUS, ids=[c[1] for c in CORPUS])
def test_invalid_corpus(feature: dict, code: str, fragment: str, fix_code: str | None) -> None:
    good = feat([CCW], id="good")
    res = load_zones(fc(good, feature))
    assert [z.id for z in res.zones] == ["good"]  # the bad feature is skipped, the good one kept
    codes = [(p.index, p.code) for p in res.errors]
    assert (1, code) in codes
    problem = next(p for p in res.errors if p.code == code)
    assert fragment in problem.message
    fixed = load_zones(fc(good, feature), fix=True)
    if fix_code is None:
        assert len(fixed.zones) == 1 and any(p.code == code for p in fixed.errors)
    else:
        assert len(fixed.zones) == 2 and not fixed.errors
        assert any(f.index == 1 and f.code == fix_code for f in fixed.fixes)
        assert shapely.is_valid(fixed.zones[1].shape)


def test_wrong_winding_is_a_warning_and_fix_rewinds() -> None:
    res = load_zones(fc(feat([CW])))
    assert len(res.zones) == 1 and not res.errors
    assert [(p.code, p.severity) for p in res.problems] == [("wrong_winding", "warning")]
    fixed = load_zones(fc(feat([CW])), fix=True)
    assert not fixed.problems and [f.code for f in fixed.fixes] == ["rewound"]
    # either way the stored geometry is RFC 7946 (exterior CCW), and a hole is CW
    assert shape(res.zones[0].geometry).exterior.is_ccw
    hole = [[113.102, 23.002], [113.104, 23.002], [113.104, 23.004], [113.102, 23.004], [113.102, 23.002]]
    z = load_zones(fc(feat([CCW, hole])), fix=True).zones[0]
    poly = shape(z.geometry)
    assert poly.exterior.is_ccw and not poly.interiors[0].is_ccw


def test_make_valid_bowtie_keeps_both_lobes() -> None:
    res = load_zones(fc(feat([BOWTIE])), fix=True)
    z = res.zones[0]
    assert z.geometry["type"] == "MultiPolygon"
    assert z.shape.area == pytest.approx(0.01 * 0.01 / 2, rel=1e-9)
    assert "Self-intersection" in res.fixes[0].message


def test_duplicate_ids_reported() -> None:
    res = load_zones(fc(feat([CCW]), feat([CCW])))
    assert len(res.zones) == 1
    assert [(p.index, p.code) for p in res.errors] == [(1, "duplicate_id")]


def test_feature_id_used_when_properties_have_none() -> None:
    f = feat([CCW], id=None)
    del f["properties"]["id"]
    f["id"] = 42
    assert load_zones(fc(f)).zones[0].id == "42"


@pytest.mark.parametrize("load", [load_zones, load_datav])
@pytest.mark.parametrize(("data", "message"), [
    ({"type": "Feature"}, "expected a GeoJSON FeatureCollection"),
    (b"{not json", "Expecting property name"),
    ({"type": "FeatureCollection"}, "features must be an array"),
    ('{"type": "FeatureCollection", "features": {"a": 1}}', "features must be an array"),
])
def test_top_level_errors_raise(load: Any, data: Any, message: str) -> None:
    """Zone files and DataV boundary files are refused alike when they are not a FeatureCollection."""
    with pytest.raises(ValueError, match=message):
        load(data)


def test_full_properties_roundtrip_through_dict_bytes_and_json() -> None:
    f = feat(
        [CCW],
        id="hz-42",
        enforcement_subject={"code": "330106-ZF", "name": "西湖区综合行政执法局"},
        enforcement_items=["C0101", "C0102"],
        schedule={"weekdays": ["Mo", "Fr"], "hours": [{"start": "22:00", "end": "06:00"}]},
        priority=20,
        dwell_s=300,
        classes=["street_vendor", "vending_cart"],
        exit_buffer_m=5,
        custom_note="kept verbatim",
    )
    zones = load_zones(json.dumps(fc(f)).encode()).zones
    z = zones[0]
    assert z.enforcement_subject is not None and z.enforcement_subject.code == "330106-ZF"
    assert z.schedule is not None and z.schedule.weekdays == (1, 5)
    assert z.attributes == {"custom_note": "kept verbatim"}
    out = dump_zones(zones, precision=None)
    assert out["features"][0]["properties"]["custom_note"] == "kept verbatim"
    assert "enforcegw_crs" not in out
    assert load_zones(out).zones == zones
    assert Zone.model_validate_json(z.model_dump_json()) == z
    assert z.model_dump(mode="json")["geometry"]["type"] == "Polygon"


def test_gcj02_import_and_export_roundtrip() -> None:
    gcj_ring = [list(wgs84_to_gcj02(x, y)) for x, y in CCW]
    z = load_zones(fc(feat([gcj_ring])), crs="gcj02").zones[0]
    assert z.source_crs == "gcj02"
    # the vertices came back to WGS84 (within 1 mm)
    for x, y in CCW:
        assert shapely.Point(x, y).distance(z.shape.exterior) < 1e-8
    exported = dump_zones([z], crs="gcj02", precision=None)
    assert exported["enforcegw_crs"] == "gcj02"
    ring = exported["features"][0]["geometry"]["coordinates"][0]
    assert any(abs(p[0] - gcj_ring[1][0]) < 1e-8 and abs(p[1] - gcj_ring[1][1]) < 1e-8 for p in ring)
    # and a WGS84 re-import of the plain export keeps the provenance
    again = load_zones(dump_zones([z], precision=None)).zones[0]
    assert again.source_crs == "gcj02" and again == z


def test_bd09_import() -> None:
    from geo.crs import wgs84_to_bd09

    bd_ring = [list(wgs84_to_bd09(x, y)) for x, y in CCW]
    z = load_zones(fc(feat([bd_ring])), crs="bd09").zones[0]
    assert z.source_crs == "bd09"
    # the published bd->gcj inverse is itself approximate (a few cm), hence 1e-6 deg (~10 cm)
    assert shapely.Point(CCW[2]).distance(z.shape.exterior) < 1e-6


def test_precision_rounding() -> None:
    z = load_zones(fc(feat([[[113.123456789, 23.0], [113.2, 23.0], [113.2, 23.1], [113.123456789, 23.0]]]))).zones
    coords = dump_zones(z, precision=6)["features"][0]["geometry"]["coordinates"][0]
    assert coords[0] == [113.123457, 23.0]


def test_datav_foshan_mapping() -> None:
    res = load_datav(require(FOSHAN))
    assert not res.errors
    by_id = {z.id: z for z in res.zones}
    assert set(by_id) == {"440604", "440605", "440606", "440607", "440608"}
    chancheng = by_id["440604"]
    assert chancheng.kind == "jurisdiction" and chancheng.name == "禅城区"
    assert chancheng.enforcement_subject is not None
    assert chancheng.enforcement_subject.code == "440604"
    assert chancheng.enforcement_subject.name == "禅城区综合行政执法局"
    assert chancheng.priority == 30 and chancheng.source_crs == "gcj02"
    assert chancheng.attributes["parent_adcode"] == 440600
    assert "center" not in chancheng.attributes  # GCJ-02 points are not carried into a WGS84 store
    # every original (GCJ-02) vertex, converted with the exact inverse, lies on the stored boundary
    raw = json.loads(FOSHAN.read_text(encoding="utf-8"))["features"][0]
    raw_xy = shapely.get_coordinates(shape(raw["geometry"]))[::25]
    wx, wy = gcj02_to_wgs84(raw_xy[:, 0], raw_xy[:, 1])
    boundary = chancheng.shape.boundary
    assert max(shapely.distance(boundary, shapely.points(wx, wy))) < 1e-9
    # and the shift is real: hundreds of metres per vertex (41-687 m over China, see test_geo_crs)
    shift = distance_m(raw_xy[:, 0], raw_xy[:, 1], wx, wy)
    assert (shift > 300).all() and (shift < 700).all()
    # every repair is reported per feature
    assert {f.index for f in res.fixes} <= set(range(5))


def test_shape_cache_follows_geometry_changes() -> None:
    z = Zone.from_shape(shapely.box(0, 0, 1, 1), id="a", kind="no_parking")
    assert z.shape.area == pytest.approx(1.0)
    moved = z.model_copy(update={"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 2], [0, 0]]]}})
    assert moved.shape.area == pytest.approx(2.0)
    assert z.area_m2() == pytest.approx(111_195**2, rel=0.01)


@pytest.mark.parametrize(("kinds", "accepted"), [
    (None, {"good"}),  # the default: geo's built-in kinds only
    (BUILTIN_KINDS | {"catering"}, {"good", "cat"}),
    (frozenset({"catering"}), {"cat"}),  # exactly the kinds handed in
])
def test_import_accepts_the_kinds_it_is_given(kinds: frozenset[str] | None, accepted: set[str]) -> None:
    features = fc(feat([CCW], id="good"), feat([CCW], id="cat", kind="catering"))
    res = load_zones(features) if kinds is None else load_zones(features, kinds=kinds)
    assert {z.id for z in res.zones} == accepted
    assert {p.zone_id for p in res.errors if p.code == "unknown_kind"} == {"good", "cat"} - accepted


def test_a_stored_zone_loads_whatever_its_kind() -> None:
    """A zone read back (from the store, an export) is trusted as stored: no kind list is consulted."""
    zone = load_zones(fc(feat([CCW], id="cat", kind="catering")), kinds={"catering"}).zones[0]
    assert Zone.model_validate_json(zone.model_dump_json()) == zone
    with pytest.raises(ValueError, match="kind"):
        Zone.model_validate({**json.loads(zone.model_dump_json()), "kind": ""})
