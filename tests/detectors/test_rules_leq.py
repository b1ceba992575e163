"""Averaging: Leq worked examples, bounds, and incremental windows equal to recomputation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.sensors.averaging import leq, leq_time_weighted, mean, mean_time_weighted
from detectors.sensors.windows import SlidingExtreme, SlidingSum, TumblingWindow


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ([70.0], 70.0),
        ([55.0, 55.0, 55.0, 55.0], 55.0),  # equal levels -> same level
        ([60.0, 70.0], 67.4),  # 10*log10((1e6+1e7)/2) = 67.40
        ([70.0, 70.0], 70.0),
        ([80.0, 0.0], 77.0),  # one loud half: energy halves -> -3.01 dB
        ([50.0] * 9 + [70.0], 60.4),  # 10% at +20 dB dominates
    ],
)
def test_leq_worked_examples(levels, expected):
    assert leq(levels) == pytest.approx(expected, abs=0.05)


def test_leq_empty_raises():
    with pytest.raises(ValueError):
        leq([])


def test_time_weighted_versions():
    # 60 dB held for 9 s then 70 dB for 1 s: (9e6 + 1e7)/10 -> 62.79 dB; the per-sample Leq would be 67.4
    assert leq_time_weighted([0.0, 9.0], [60.0, 70.0], 10.0) == pytest.approx(62.79, abs=0.01)
    assert mean_time_weighted([0.0, 1.0, 4.0], [1.0, 4.0, 2.0], 4.0) == pytest.approx((1 + 12) / 4)
    with pytest.raises(ValueError):
        mean_time_weighted([2.0, 1.0], [1.0, 1.0], 3.0)


levels_st = st.lists(st.floats(min_value=0.0, max_value=140.0, allow_nan=False), min_size=1, max_size=60)


@given(levels_st)
def test_leq_between_min_and_max(levels):
    v = leq(levels)
    assert min(levels) - 1e-9 <= v <= max(levels) + 1e-9
    assert v >= mean(levels) - 1e-9  # energy average never below the arithmetic mean of levels


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=30), st.floats(min_value=0.0, max_value=130.0, allow_nan=False)),
        min_size=1, max_size=200,
    ),
    st.integers(min_value=1, max_value=50),
)
def test_sliding_windows_equal_recomputation(steps, window_s):
    """After every reading, the incremental window equals a recomputation over (t - window, t]."""
    wl, wm = SlidingSum(window_s, leq=True), SlidingSum(window_s, leq=False)
    wmax, wmin = SlidingExtreme(window_s, 1), SlidingExtreme(window_s, -1)
    t = 0.0
    history: list[tuple[float, float]] = []
    for dt, v in steps:
        t += dt + 0.5
        history.append((t, v))
        inside = [x for (tt, x) in history if tt > t - window_s]
        assert wl.add(t, v, None) == pytest.approx(leq(inside), abs=1e-6)
        assert wm.add(t, v, None) == pytest.approx(mean(inside), rel=1e-9, abs=1e-9)
        assert wmax.add(t, v, None) == max(inside)
        assert wmin.add(t, v, None) == min(inside)
        assert len(wl.readings()) == len(inside)


def test_sliding_leq_survives_large_cancellation():
    w = SlidingSum(2, leq=True)
    w.add(0.0, 140.0, None)
    for i in range(1, 50):
        value = w.add(float(i), 20.0, None)
    assert value == pytest.approx(20.0, abs=1e-9)


def test_tumbling_windows_align_to_local_hours():
    w = TumblingWindow(3600, "leq")
    offset = 8 * 3600  # Asia/Shanghai
    base = 1_741_000_000 - (1_741_000_000 + offset) % 3600  # a local hour boundary
    assert w.add(base + 10, 60.0, "a", offset) is None
    assert w.add(base + 3599, 70.0, "b", offset) is None
    closed = w.add(base + 3600, 50.0, "c", offset)
    assert closed is not None
    start, end, value, readings = closed
    assert (start, end) == (base, base + 3600)
    assert value == pytest.approx(67.4, abs=0.05)
    assert readings == ("a", "b")
    assert math.isclose(w.end, base + 7200)
