"""FpsSampler: kept rate is the target, phase-stable, no drift; slower sources keep every frame."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.video.sampling import FpsSampler


def kept_indices(times: list[float], target: float) -> list[int]:
    s = FpsSampler(target)
    return [i for i, t in enumerate(times) if s.keep(t)]


@pytest.mark.parametrize(("source_fps", "target", "seconds", "expected"), [
    (25, 5, 2.0, list(range(0, 50, 5))),  # every 5th frame
    (30, 10, 1.0, list(range(0, 30, 3))),
    (25, 25, 1.0, list(range(25))),  # same rate: all
    (10, 25, 1.0, list(range(10))),  # slower than the target: all
    (30, 4, 1.0, [0, 8, 15, 23]),  # 30/4 = 7.5: slots open at 0, 0.25, 0.5, 0.75 s
])
def test_known_sequences(source_fps: int, target: float, seconds: float, expected: list[int]) -> None:
    times = [i / source_fps for i in range(round(source_fps * seconds))]
    assert kept_indices(times, target) == expected


def test_datetimes_from_epoch_seconds_keep_the_slot_grid() -> None:
    # epoch seconds near 1.8e9 lose ~1e-7 s to float rounding: a frame on a slot boundary still opens it
    start = datetime(2026, 12, 2, 13, 0, 0, tzinfo=UTC)
    s = FpsSampler(5)
    kept = [i for i in range(100) if s.keep(start + timedelta(seconds=i / 25))]
    assert kept == list(range(0, 100, 5))


def test_time_running_backwards_starts_a_new_grid() -> None:
    s = FpsSampler(5)
    assert [s.keep(t) for t in (100.0, 100.04, 100.2)] == [True, False, True]
    assert s.keep(3.0) is True  # a PTS reset: kept, and the grid restarts at 3.0
    assert [s.keep(t) for t in (3.04, 3.2)] == [False, True]


def test_reset_keeps_the_next_frame() -> None:
    s = FpsSampler(1)
    assert s.keep(0.0) and not s.keep(0.5)
    s.reset()
    assert s.keep(0.6)


@pytest.mark.parametrize("bad", [0, -1, math.inf, math.nan])
def test_target_must_be_positive_and_finite(bad: float) -> None:
    with pytest.raises(ValueError):
        FpsSampler(bad)


@settings(max_examples=200, deadline=None)
@given(source=st.floats(1.0, 120.0), target=st.floats(0.5, 30.0), seconds=st.floats(1.0, 120.0),
       jitter=st.lists(st.floats(-0.2, 0.2), min_size=1, max_size=50), t0=st.floats(0, 2e9))
def test_kept_rate_is_the_target_without_drift(source: float, target: float, seconds: float, jitter: list[float],
                                               t0: float) -> None:
    """Frames with timing jitter up to a fifth of their interval: where every slot holds a frame (the longest gap
    between frames is within a slot), the kept count is the number of slots the run spans, within one, and
    consecutive kept frames are less than two slots apart; a source whose shortest gap exceeds a slot keeps every
    frame; in between, never more than one per slot."""
    n = max(int(source * seconds), 2)
    period = 1.0 / source
    times = [t0 + i * period + jitter[i % len(jitter)] * period for i in range(n)]
    kept = kept_indices(times, target)
    span = times[-1] - times[0]
    assert len(kept) <= span * target + 2
    if period * 1.4 <= 1.0 / target:
        assert abs(len(kept) - span * target) <= 2
        gaps = [times[b] - times[a] for a, b in itertools.pairwise(kept)]
        assert all(g < 2.0 / target for g in gaps)
    elif period * 0.6 >= 1.0 / target * (1 + 1e-3):
        assert kept == list(range(n))


@settings(max_examples=100, deadline=None)
@given(times=st.lists(st.floats(0, 1000), min_size=1, max_size=200), target=st.floats(0.5, 30.0))
def test_never_two_kept_in_one_slot_of_a_monotonic_source(times: list[float], target: float) -> None:
    times = sorted(times)
    kept = [times[i] for i in kept_indices(times, target)]
    slots = [math.floor((t - times[0]) * target + 1e-4) for t in kept]
    assert len(set(slots)) == len(slots)
    assert kept[0] == times[0]
