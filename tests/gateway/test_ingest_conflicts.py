"""Duplicates, conflicts and whole messages, through the ingest writer on a real PostgreSQL.

An exact redelivery is a duplicate; a different value (or time) under a stored key is a `conflict` dead letter
holding the message's own topic and bytes, the first value stays; a message is stored whole or refused whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from testkit.ingest_writer_harness import WriterHarness

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
T1 = T0 + timedelta(seconds=1)
S = "enf/sensor/n1/reading"
P = "enf/drone/d1/pose"


def rd(t: datetime, seq: int | None = None, **values: float) -> tuple[str, dict]:
    body: dict = {"ts": t.isoformat(), "readings": values}
    if seq is not None:
        body["seq"] = seq
    return S, body


def pose(t: datetime, **fields: float) -> tuple[str, dict]:
    return P, {"ts": t.isoformat(), "lat": 23.0, "lon": 113.2, "alt_rel_m": 50.0, **fields}


@pytest.fixture
def h(db_url: str) -> Iterator[WriterHarness]:
    harness = WriterHarness(db_url)
    yield harness
    harness.close()


# (first batch, second batch, readings stored at the end as (metric, seq, time, value), index in the second batch
#  of each message expected as a conflict, fragments of the conflict details)
CASES = {
    "redelivery with seq is a duplicate": (
        [rd(T0, 5, LAeq=50.0)], [rd(T0, 5, LAeq=50.0)],
        [("LAeq", 5, T0, 50.0)], [], []),
    "redelivery without seq is a duplicate": (
        [rd(T0, None, LAeq=50.0, LAmax=60.0)], [rd(T0, None, LAeq=50.0, LAmax=60.0)],
        [("LAeq", None, T0, 50.0), ("LAmax", None, T0, 60.0)], [], []),
    "same seq, other value": (
        [rd(T0, 5, LAeq=50.0)], [rd(T0, 5, LAeq=51.0)],
        [("LAeq", 5, T0, 50.0)], [0], ["reading n1 seq=5 LAeq", "stored time " + T0.isoformat()[:19],
                                      "value 50.0", "received time", "value 51.0"]),
    "same seq, same value, other time": (
        [rd(T0, 5, LAeq=50.0)], [rd(T1, 5, LAeq=50.0)],
        [("LAeq", 5, T0, 50.0)], [0], ["seq=5 LAeq", T1.isoformat()[:19]]),
    "no seq, same time, other value": (
        [rd(T0, None, LAeq=50.0)], [rd(T0, None, LAeq=49.5)],
        [("LAeq", None, T0, 50.0)], [0], ["time=" + T0.isoformat()[:19], "49.5"]),
    "a message partly stored already is refused whole": (
        [rd(T0, 5, LAeq=50.0)], [rd(T0, 5, LAeq=50.0, LAmax=70.0)],
        [("LAeq", 5, T0, 50.0)], [0], ["repeats 1 stored row(s) and adds 1 new one(s)", "stored whole or refused"]),
    "one metric stored under the seq, another new at another time": (
        [rd(T0, 5, LAeq=50.0)], [rd(T1, 5, LAeq=50.0, LAmax=70.0)],
        [("LAeq", 5, T0, 50.0)], [0], ["seq=5 LAeq"]),
    "two values under one key in one batch: the first wins": (
        [], [rd(T0, 7, LAeq=50.0), rd(T0, 7, LAeq=52.0)],
        [("LAeq", 7, T0, 50.0)], [1], ["stored time", "value 50.0", "value 52.0"]),
    "a redelivery inside one batch is a duplicate": (
        [], [rd(T0, 7, LAeq=50.0), rd(T0, 7, LAeq=50.0)],
        [("LAeq", 7, T0, 50.0)], [], []),
    "a conflict does not hold back the new messages beside it": (
        [rd(T0, 5, LAeq=50.0)], [rd(T1, 6, LAeq=40.0), rd(T0, 5, LAeq=51.0), rd(T1 + timedelta(seconds=1), 7,
                                                                                 LAeq=41.0)],
        [("LAeq", 5, T0, 50.0), ("LAeq", 6, T1, 40.0), ("LAeq", 7, T1 + timedelta(seconds=1), 41.0)], [1], []),
    "a refused message does not win its key for a later one": (
        [rd(T0, 5, LAeq=50.0)], [rd(T0, 5, LAeq=51.0, LAmax=60.0), rd(T0, 5, LAmax=61.0)],
        [("LAeq", 5, T0, 50.0), ("LAmax", 5, T0, 61.0)], [0], ["seq=5 LAeq"]),
    "readings with and without seq never collide": (
        [rd(T0, None, LAeq=50.0)], [rd(T0, 1, LAeq=51.0)],
        [("LAeq", None, T0, 50.0), ("LAeq", 1, T0, 51.0)], [], []),
}


@pytest.mark.parametrize(("first", "second", "stored", "conflicts", "fragments"), CASES.values(), ids=CASES.keys())
def test_duplicates_and_conflicts(h: WriterHarness, first: list, second: list, stored: list, conflicts: list[int],
                                  fragments: list[str]) -> None:
    if first:
        h.batch(*first)
    taken = h.batch(*second)
    rows = h.rows("SELECT metric, seq, time, value FROM readings ORDER BY seq NULLS FIRST, metric")
    assert sorted(rows, key=repr) == sorted(stored, key=repr)
    dead = h.dead()
    assert [(t, r, p) for t, r, _d, p in dead] == [(taken[i].topic, "conflict", taken[i].payload) for i in conflicts]
    for fragment in fragments:
        assert fragment in dead[0][2], dead[0][2]
    assert h.counter("enforcegw_ingest_conflicts_total", kind="reading") == len(conflicts)
    assert h.counter("enforcegw_dead_letters_total", reason="conflict") == len(conflicts)
    assert len(h.acked) == len(first) + len(second)  # refused or not, every message is acknowledged
    n_second = sum(len(body["readings"]) for _t, body in second)
    n_conflict = sum(len(second[i][1]["readings"]) for i in conflicts)
    stored_now = h.counter("enforcegw_readings_stored_total")
    dup = h.counter("enforcegw_readings_duplicate_total")
    assert stored_now + dup + n_conflict == n_second + sum(len(b["readings"]) for _t, b in first)
    # the hooks (rule engine, no-fly monitor) see exactly what was stored
    hooked = {(r.metric, r.seq, r.time, r.value) for rs, _p in h.hooked for r in rs}
    assert hooked == set(stored)


def test_pose_redelivery_is_a_duplicate_and_another_position_a_conflict(h: WriterHarness) -> None:
    h.batch(pose(T0))
    h.batch(pose(T0))
    assert h.counter("enforcegw_poses_duplicate_total") == 1
    assert h.dead() == []
    taken = h.batch(pose(T0, alt_rel_m=80.0), pose(T1), pose(T1, lat=23.5))
    assert h.rows("SELECT time, lat, alt_rel_m FROM poses ORDER BY time") == [(T0, 23.0, 50.0), (T1, 23.0, 50.0)]
    dead = h.dead()
    assert [(t, r, p) for t, r, _d, p in dead] == [(P, "conflict", taken[0].payload), (P, "conflict", taken[2].payload)]
    assert "pose d1 time=" in dead[0][2] and "alt_rel_m=50.0" in dead[0][2] and "alt_rel_m=80.0" in dead[0][2]
    assert "lat=23.0" in dead[1][2] and "lat=23.5" in dead[1][2]
    assert h.counter("enforcegw_ingest_conflicts_total", kind="pose") == 2
    assert [p.time for _r, ps in h.hooked for p in ps] == [T0, T1]


def test_a_batch_of_5000_new_readings_has_no_conflicts(h: WriterHarness) -> None:
    msgs = [rd(T0 + timedelta(seconds=i), i, LAeq=40.0 + i % 7) for i in range(5000)]
    h.batch(*msgs)
    h.batch(*msgs[:2000], rd(T0, 0, LAeq=99.0))  # redelivery of the first 2000, one of them changed
    assert h.rows("SELECT count(*), count(DISTINCT seq) FROM readings") == [(5000, 5000)]
    assert h.counter("enforcegw_readings_duplicate_total") == 2000
    assert [r for _t, r, _d, _p in h.dead()] == ["conflict"]
