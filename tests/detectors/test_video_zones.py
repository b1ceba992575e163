"""Image zones: bottom-centre anchor, minimum area, kinds, inertia; object refusals; point-in-polygon."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.video.image_zones import ImageZoneConfig, ImageZones, Inertia, ZoneMembership, point_in_polygon
from detectors.video.tracks import Box, TrackedObject, box_gap, box_iou, refusal

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
# a kerb strip in the lower half of a 1000 x 1000 frame: y from 600 to 800
KERB = ImageZoneConfig(id="kerb", kind="no_parking", coordinates=((0, 0.6), (1, 0.6), (1, 0.8), (0, 0.8)))


def obj(box: tuple[float, float, float, float], kind: str = "car", tid: str = "1", **kw: object) -> TrackedObject:
    return TrackedObject(track_id=tid, kind=kind, score=kw.pop("score", 0.9), box=Box(*box), time=T0, **kw)


@pytest.mark.parametrize(
    ("box", "inside"),
    [
        ((100, 500, 300, 700), True),  # bottom centre (200, 700) in the strip; box centre (200, 600) on its edge
        ((100, 300, 300, 650), True),  # a tall truck: centre (200, 475) outside, anchor (200, 650) inside
        ((100, 700, 300, 900), False),  # anchor (200, 900) below the strip although the box overlaps it
        ((100, 500, 300, 800), True),  # anchor exactly on the bottom edge counts as inside
        ((100, 500, 300, 600), True),  # anchor on the top edge
        ((100, 400, 300, 599), False),  # anchor one pixel above
    ],
)
def test_bottom_centre_anchor(box: tuple[float, float, float, float], inside: bool) -> None:
    assert KERB.hits(obj(box), 1000, 1000) is inside


def test_anchor_differs_from_box_centre_on_edge() -> None:
    # box centre (200, 550) is outside the strip, the bottom centre (200, 600) is on its edge: the anchor decides
    o = obj((100, 500, 300, 600))
    assert not point_in_polygon(o.box.centre, KERB.polygon_px(1000, 1000))
    assert KERB.hits(o, 1000, 1000)


@pytest.mark.parametrize(("area", "hit"), [(399.0, False), (400.0, True), (401.0, True)])
def test_minimum_area(area: float, hit: bool) -> None:
    zone = KERB.model_copy(update={"min_area_px": 400.0})
    side = area**0.5
    assert zone.hits(obj((200, 700 - side, 200 + side, 700)), 1000, 1000) is hit


@pytest.mark.parametrize(("kind", "hit"), [("car", True), ("truck", True), ("person", False)])
def test_zone_objects_filter(kind: str, hit: bool) -> None:
    zone = KERB.model_copy(update={"objects": ("car", "truck")})
    assert zone.hits(obj((100, 500, 300, 700), kind=kind), 1000, 1000) is hit


def test_pixel_coordinates() -> None:
    zone = ImageZoneConfig(id="z", kind="no_parking", relative=False,
                           coordinates=((0, 600), (1000, 600), (1000, 800), (0, 800)))
    low = obj((100, 700, 300, 820))  # anchor y 820: below the pixel strip (600..800), in the relative one (648..864)
    assert not zone.hits(low, 1920, 1080)
    assert KERB.hits(low, 1920, 1080)


def test_config_refuses_unknown_fields_and_short_polygons() -> None:
    with pytest.raises(ValueError):
        ImageZoneConfig(id="z", kind="k", coordinates=((0, 0), (1, 1)))
    with pytest.raises(ValueError):
        ImageZoneConfig(id="z", kind="k", coordinates=((0, 0), (1, 0), (1, 1)), colour="red")


IN, OUT = {"kerb"}, set()


@pytest.mark.parametrize(
    ("frames", "members"),
    [
        # enter inertia 3: members only from the third consecutive frame inside
        ([IN, IN, IN, IN], [False, False, True, True]),
        ([IN, IN, OUT, IN, IN, IN], [False, False, False, False, False, True]),
        # exit inertia 3: two frames out keep the membership, the third ends it
        ([IN, IN, IN, OUT, OUT, IN], [False, False, True, True, True, True]),
        ([IN, IN, IN, OUT, OUT, OUT, IN], [False, False, True, True, True, False, False]),
        # a frame the track is missing from counts as outside
        ([IN, IN, IN, None, None, None], [False, False, True, True, True, False]),
    ],
)
def test_inertia_edges(frames: list[set[str] | None], members: list[bool]) -> None:
    m = ZoneMembership(Inertia(3, 3))
    got = []
    for hits in frames:
        res = m.update({} if hits is None else {"t1": hits})
        got.append("kerb" in res.get("t1", set()))
    assert got == members


def test_membership_forgets_gone_tracks() -> None:
    m = ZoneMembership(Inertia(1, 2))
    m.update({"a": {"z"}, "b": set()})
    assert m.tracked == 1
    m.update({})
    m.update({})
    assert m.tracked == 0


def test_image_zones_per_zone_inertia() -> None:
    zones = ImageZones([KERB.model_copy(update={"inertia": 1, "exit_inertia": 2})])
    car = obj((100, 500, 300, 700))
    assert zones.update([car], 1000, 1000) == {"1": {"kerb"}}
    assert zones.update([], 1000, 1000) == {"1": {"kerb"}}  # one frame out of two
    assert zones.update([], 1000, 1000) == {}
    with pytest.raises(ValueError):
        ImageZones([KERB, KERB])


@pytest.mark.parametrize(
    ("o", "code"),
    [
        (obj((0, 0, 10, 10)), None),
        (obj((0, 0, 10, 10), tid=""), "bad_track_id"),
        (obj((0, 0, 10, 10), kind=""), "bad_kind"),
        (obj((0, 0, 10, 10), score=1.5), "bad_score"),
        (obj((0, 0, 10, 10), score=float("nan")), "bad_score"),
        (obj((10, 0, 10, 10)), "bad_box"),
        (obj((0, 0, float("inf"), 10)), "bad_box"),
        (TrackedObject("1", "car", 0.5, Box(0, 0, 1, 1), datetime(2026, 1, 1)), "naive_time"),
        (obj((0, 0, 10, 10), ground=(200.0, 23.0)), "bad_ground"),
        (obj((0, 0, 10, 10), ground=(113.1, 23.0)), None),
    ],
)
def test_refusal_codes(o: TrackedObject, code: str | None) -> None:
    why = refusal(o)
    assert (why.code if why else None) == code


@pytest.mark.parametrize(
    ("a", "b", "gap", "iou"),
    [
        (Box(0, 0, 10, 10), Box(20, 0, 30, 10), 10.0, 0.0),
        (Box(0, 0, 10, 10), Box(13, 14, 20, 20), 5.0, 0.0),
        (Box(0, 0, 10, 10), Box(5, 0, 15, 10), 0.0, 50 / 150),
        (Box(0, 0, 10, 10), Box(0, 0, 10, 10), 0.0, 1.0),
    ],
)
def test_box_gap_and_iou(a: Box, b: Box, gap: float, iou: float) -> None:
    assert box_gap(a, b) == pytest.approx(gap)
    assert box_iou(a, b) == pytest.approx(iou)


coord = st.integers(min_value=-50, max_value=50).map(float)


@settings(max_examples=300, deadline=None)
@given(poly=st.lists(st.tuples(coord, coord), min_size=3, max_size=7), pt=st.tuples(coord, coord))
def test_point_in_polygon_matches_shapely(poly: list[tuple[float, float]], pt: tuple[float, float]) -> None:
    shape = shapely.Polygon(poly)
    if not shape.is_valid or shape.area == 0:
        return
    assert point_in_polygon(pt, poly) == shape.covers(shapely.Point(pt))
