"""Registry queries (kinds, schedules, atomic reload), jurisdiction routing, Foshan districts, no-fly."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
import shapely

from geo.camera import DronePose
from geo.crs import gcj02_to_wgs84
from geo.geojson_io import load_datav
from geo.jurisdiction import resolve, resolve_many, winning_zone_index
from geo.nofly import check_no_fly
from geo.registry import ZoneRegistry
from geo.schedule import Schedule
from geo.zones import EnforcementSubject, Zone
from testkit.geo_testdata import FOSHAN, GUANGDONG, require

CST = timezone(timedelta(hours=8))
MON_NOON = datetime(2025, 1, 6, 12, 0, tzinfo=CST)
MON_NIGHT = datetime(2025, 1, 6, 23, 0, tzinfo=CST)


def box_zone(zid: str, x0: float, y0: float, x1: float, y1: float, kind: str = "no_vending", **kw: object) -> Zone:
    return Zone.from_shape(shapely.box(x0, y0, x1, y1), id=zid, kind=kind, name=zid, **kw)


def subject(code: str) -> EnforcementSubject:
    return EnforcementSubject(code=code, name=f"{code}综合行政执法局")


@pytest.fixture
def registry() -> ZoneRegistry:
    return ZoneRegistry(
        [
            box_zone("a", 0, 0, 10, 10),
            box_zone("b", 5, 5, 15, 15, kind="no_parking"),
            box_zone("night", 0, 0, 2, 2, schedule=Schedule(hours=[{"start": "22:00", "end": "06:00"}])),
        ]
    )


def test_vectorised_contains_with_filters(registry: ZoneRegistry) -> None:
    lons = np.array([1.0, 7.0, 12.0, 20.0, 10.0])
    lats = np.array([1.0, 7.0, 12.0, 20.0, 7.0])
    hits = registry.contains(lons, lats)
    ids = [sorted(z.id for z in zs) for zs in hits.per_point(5)]
    assert ids == [["a", "night"], ["a", "b"], ["b"], [], ["a", "b"]]  # (10, 7) on a's edge counts (intersects)
    assert hits.counts(5).tolist() == [2, 2, 1, 0, 2]
    assert [z.id for z in hits.zones_for(2)] == ["b"]
    only_parking = registry.contains(lons, lats, kinds=["no_parking"]).per_point(5)
    assert [[z.id for z in zs] for zs in only_parking] == [[], ["b"], ["b"], [], ["b"]]
    day = registry.contains(lons, lats, at=MON_NOON).per_point(5)
    assert sorted(z.id for z in day[0]) == ["a"]  # night zone inactive at noon
    night = registry.contains(lons, lats, at=MON_NIGHT).per_point(5)
    assert sorted(z.id for z in night[0]) == ["a", "night"]
    within = registry.contains(lons, lats, predicate="within").per_point(5)
    assert [z.id for z in within[4]] == ["b"]  # (10, 7) is on a's edge: not within a
    assert registry.zones_at(12, 12)[0].id == "b"


def test_unknown_kind_filter_and_empty_registry() -> None:
    reg = ZoneRegistry()
    assert len(reg.contains([1.0], [1.0])) == 0
    reg.replace([box_zone("a", 0, 0, 1, 1)])
    assert len(reg.contains([0.5], [0.5], kinds=["no_fly"])) == 0


def test_naive_time_refused(registry: ZoneRegistry) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        registry.contains([1.0], [1.0], at=datetime(2025, 1, 6, 12))


def test_reload_is_an_atomic_snapshot_swap(registry: ZoneRegistry) -> None:
    old = registry.index
    v0 = registry.version
    registry.replace([box_zone("c", 100, 0, 101, 1)])
    assert registry.version == v0 + 1
    # a reader holding the old snapshot keeps a consistent view
    assert sorted(z.id for z in old.query([1.0], [1.0]).zones_for(0)) == ["a", "night"]
    assert registry.zones_at(1, 1) == [] and registry.zones_at(100.5, 0.5)[0].id == "c"
    registry.upsert(box_zone("c", 200, 0, 201, 1))
    assert registry.zones_at(100.5, 0.5) == [] and registry.get("c") is not None
    registry.remove(["c"])
    assert len(registry) == 0
    with pytest.raises(ValueError, match="duplicate"):
        registry.replace([box_zone("x", 0, 0, 1, 1), box_zone("x", 2, 2, 3, 3)])
    assert len(registry) == 0  # a failed build leaves the current index in place


def test_concurrent_readers_always_see_a_complete_index() -> None:
    """Readers during reloads see either all of set A or all of set B, never a mix or an empty index."""
    set_a = [box_zone(f"a{i}", i, 0, i + 1, 1) for i in range(50)]
    set_b = [box_zone(f"b{i}", i, 0, i + 1, 1) for i in range(50)]
    reg = ZoneRegistry(set_a)
    xs = np.arange(50) + 0.5
    ys = np.full(50, 0.5)
    bad: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            hits = reg.contains(xs, ys)
            prefixes = {z.id[0] for z in (hits.index.zones[i] for i in hits.zone_index)}
            if len(hits) != 50 or len(prefixes) != 1:
                bad.append(f"{len(hits)} {prefixes}")

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for k in range(200):
        reg.replace(set_b if k % 2 == 0 else set_a)
    stop.set()
    for t in threads:
        t.join()
    assert bad == []


# --- jurisdiction -------------------------------------------------------------------------------------


@pytest.fixture
def juris() -> ZoneRegistry:
    return ZoneRegistry(
        [
            box_zone("city", 0, 0, 100, 100, kind="jurisdiction", priority=20, enforcement_subject=subject("CITY")),
            box_zone("big", 10, 10, 60, 60, kind="jurisdiction", priority=30, enforcement_subject=subject("BIG")),
            box_zone("small", 20, 20, 30, 30, kind="jurisdiction", priority=30, enforcement_subject=subject("SMALL")),
            box_zone("vip", 40, 40, 90, 90, kind="jurisdiction", priority=50, enforcement_subject=subject("VIP")),
            box_zone("vending", 0, 0, 100, 100, kind="no_vending", priority=99),
        ]
    )


@pytest.mark.parametrize(
    ("lon", "lat", "code", "flagged"),
    [
        (5, 5, "CITY", False),  # only the city
        (15, 15, "BIG", False),  # priority 30 beats the city's 20
        (25, 25, "SMALL", True),  # equal priority 30: the smaller area wins (flagged as a tie-break)
        (50, 50, "VIP", False),  # priority 50 beats everything, however large
        (95, 95, "CITY", False),
        (150, 150, "unassigned", True),  # outside all
    ],
)
def test_jurisdiction_priority_then_area(juris: ZoneRegistry, lon: float, lat: float, code: str, flagged: bool) -> None:
    res = resolve(juris, lon, lat)
    assert res.subject_code == code
    assert res.flagged is flagged
    assert "vending" not in res.candidates  # only jurisdiction zones count
    if code == "unassigned":
        assert res.status == "unassigned" and res.subject is None and res.zone is None


def test_jurisdiction_vectorised_paths_agree(juris: ZoneRegistry) -> None:
    rng = np.random.default_rng(1)
    lons, lats = rng.uniform(-10, 110, 2000), rng.uniform(-10, 110, 2000)
    slow = resolve_many(juris, lons, lats)
    fast = winning_zone_index(juris, lons, lats)
    zones = juris.index.zones
    for r, w in zip(slow, fast, strict=True):
        assert (r.zone.id if r.zone else None) == (zones[w].id if w >= 0 else None)
    assert (fast == -1).sum() == sum(r.status == "unassigned" for r in slow) > 0


def test_jurisdiction_shared_edge_is_deterministic() -> None:
    reg = ZoneRegistry(
        [
            box_zone("west", 0, 0, 10, 10, kind="jurisdiction", enforcement_subject=subject("W")),
            box_zone("east", 10, 0, 20, 10, kind="jurisdiction", enforcement_subject=subject("E")),
        ]
    )
    res = resolve(reg, 10.0, 5.0)  # on the shared edge: both match, equal area -> lowest id
    assert res.candidates == ("east", "west") and res.subject_code == "E" and res.flagged


def test_jurisdiction_respects_schedule() -> None:
    reg = ZoneRegistry(
        [
            box_zone(
                "day",
                0,
                0,
                10,
                10,
                kind="jurisdiction",
                priority=10,
                enforcement_subject=subject("DAY"),
                schedule=Schedule(hours=[{"start": "08:00", "end": "20:00"}]),
            ),
            box_zone("base", 0, 0, 10, 10, kind="jurisdiction", priority=0, enforcement_subject=subject("BASE")),
        ]
    )
    assert resolve(reg, 5, 5, at=MON_NOON).subject_code == "DAY"
    assert resolve(reg, 5, 5, at=MON_NIGHT).subject_code == "BASE"


def test_foshan_districts_route_to_themselves() -> None:
    """Representative point per district (point_on_surface in GCJ-02, converted to WGS84) routes to it."""
    import json

    raw = json.loads(require(FOSHAN))
    res = load_datav(raw)
    assert not res.errors and len(res.zones) == 5
    reg = ZoneRegistry(res.zones)
    for feature in raw["features"]:
        gcj = shapely.make_valid(shapely.geometry.shape(feature["geometry"]))
        p = gcj.point_on_surface()
        lon, lat = gcj02_to_wgs84(p.x, p.y)
        r = resolve(reg, lon, lat)
        adcode = str(feature["properties"]["adcode"])
        assert r.status == "assigned", adcode
        assert r.zone is not None and r.zone.id == adcode
        assert r.subject is not None and r.subject.code == adcode
        assert r.subject.name == feature["properties"]["name"] + "综合行政执法局"
    # a point in the sea off Foshan is unassigned and flagged
    far = resolve(reg, 113.5, 21.5)
    assert far.status == "unassigned" and far.flagged


def test_districts_beat_city_when_both_loaded() -> None:
    """Guangdong cities (priority 20) + Foshan districts (30): a Foshan point routes to the district."""
    import json

    cities = load_datav(require(GUANGDONG)).zones
    districts = load_datav(require(FOSHAN)).zones
    reg = ZoneRegistry([*cities, *districts])
    raw = json.loads(FOSHAN.read_bytes())
    p = shapely.make_valid(shapely.geometry.shape(raw["features"][1]["geometry"])).point_on_surface()
    r = resolve(reg, *gcj02_to_wgs84(p.x, p.y))
    assert r.zone is not None and r.zone.id == "440605"
    assert "440600" in r.candidates  # Foshan city matched too, but lost on priority
    gz = resolve(reg, 113.27, 23.13)  # central Guangzhou: city level only
    assert gz.zone is not None and gz.zone.id == "440100" and not gz.flagged


# --- no-fly -------------------------------------------------------------------------------------------


def test_no_fly_events() -> None:
    reg = ZoneRegistry(
        [
            box_zone("airport", 0, 0, 1, 1, kind="no_fly", priority=90, upper_m=500),
            box_zone(
                "park",
                0.5,
                0.5,
                2,
                2,
                kind="no_fly",
                priority=10,
                lower_m=50,
                schedule=Schedule(hours=[{"start": "08:00", "end": "18:00"}]),
            ),
            box_zone("market", 0, 0, 2, 2, kind="no_vending"),
        ]
    )
    pose = DronePose(lat=0.75, lon=0.75, height_agl_m=100, device_id="drone-7", time=MON_NOON)
    events = check_no_fly(pose, reg)
    assert [e.zone_id for e in events] == ["airport", "park"]  # priority order; no_vending ignored
    assert events[0].device_id == "drone-7" and events[0].time == MON_NOON
    assert [e.zone_id for e in check_no_fly(pose, reg, at=MON_NIGHT)] == ["airport"]  # park inactive
    low = pose.model_copy(update={"height_agl_m": 30})
    assert [e.zone_id for e in check_no_fly(low, reg)] == ["airport"]  # below park's lower limit
    high = pose.model_copy(update={"height_agl_m": 600})
    assert [e.zone_id for e in check_no_fly(high, reg)] == ["park"]  # above airport's upper limit
    outside = pose.model_copy(update={"lat": 5.0})
    assert check_no_fly(outside, reg) == []
    with pytest.raises(ValueError, match="needs a time"):
        check_no_fly(pose.model_copy(update={"time": None}), reg)
    assert check_no_fly(pose, reg.index, at=datetime(2025, 1, 6, 4, 0, tzinfo=UTC))[1].zone_id == "park"


def test_threaded_query_matches_single_thread() -> None:
    rng = np.random.default_rng(3)
    zones = [box_zone(f"z{i}", i % 10, i // 10, i % 10 + 1.5, i // 10 + 1.5) for i in range(100)]
    reg = ZoneRegistry(zones)
    lons, lats = rng.uniform(0, 11, 120_000), rng.uniform(0, 11, 120_000)
    one = reg.contains(lons, lats)
    two = reg.contains(lons, lats, workers=3)
    assert len(one) > 100_000
    a = np.lexsort((one.zone_index, one.point_index))
    b = np.lexsort((two.zone_index, two.point_index))
    assert np.array_equal(one.point_index[a], two.point_index[b])
    assert np.array_equal(one.zone_index[a], two.zone_index[b])
