"""The audit's chunk scanner without a database: the fast path confirms exactly the chunks the exact path
finds clean, and both rebuild the same subtrees and chain ends."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.audit.chunk import chain_finding
from evidence.audit.scan import _exact, _fast
from testkit.audit_rows import TAMPER, chained_rows, leaves_of, tampered_rows
from testkit.evidence_helpers import ref_mth

DEVICES = ["cam-1", "cam-2", 'odd "id" \\ ü', "cam-1"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(DEVICES), min_size=1, max_size=40), st.booleans())
def test_fast_path_confirms_clean_chunks_like_the_exact_path(devices: list[str], signed: bool) -> None:
    rows = chained_rows(devices, signed=signed)
    leaves = leaves_of(rows)
    fast = _fast(rows, leaves, 0, len(rows))
    exact = _exact(rows, leaves, 0, len(rows))
    assert fast is not None, "a clean chunk must not need the slow path"
    assert exact.findings == []
    assert (fast.levels, fast.ends, fast.entries) == (exact.levels, exact.ends, exact.entries)
    if len(rows) & (len(rows) - 1) == 0:  # a complete chunk: its top level is the RFC 6962 root
        assert fast.levels[-1] == ref_mth([r[2] for r in rows])


@pytest.mark.parametrize("what", list(TAMPER))
@settings(max_examples=15, deadline=None)
@given(devices=st.lists(st.sampled_from(DEVICES[:2]), min_size=3, max_size=20), at=st.integers(0, 19),
       signed=st.booleans())
def test_fast_path_never_confirms_what_the_exact_path_finds(what: str, devices: list[str], at: int,
                                                          signed: bool) -> None:
    rows = tampered_rows(devices, what, at, signed)
    leaves = leaves_of(rows)
    exact = _exact(rows, leaves, 0, len(rows))
    fast = _fast(rows, leaves, 0, len(rows))
    if exact.findings:
        assert fast is None
    else:  # e.g. a changed first entry of a device: that is for the parent to judge, from the chain ends
        assert fast is not None and fast.ends == exact.ends


@pytest.mark.parametrize(("what", "column"), [("device column", "device_id"), ("seq column", "device_seq"),
                                              ("entry_type column", "entry_type"),
                                              ("entry_type column, prefix of the bytes", "entry_type")])
@pytest.mark.parametrize("at", [0, 3])
def test_exact_path_names_a_column_that_differs_from_the_bytes(what: str, column: str, at: int) -> None:
    """Every column copied from the entry bytes is compared with them, and the finding names the column."""
    rows = tampered_rows(["cam-1", "cam-2", "cam-1", "cam-1"], what, at)
    exact = _exact(rows, leaves_of(rows), 0, len(rows))
    assert [(kind, item) for kind, item, _ in exact.findings] == [("entry", f"entry {at}")]
    assert f"{column} column" in exact.findings[0][2]
    assert _fast(rows, leaves_of(rows), 0, len(rows)) is None


def test_exact_path_places_leaves_around_a_deleted_row() -> None:
    rows = chained_rows(["a", "b", "a", "b"], start=8)
    del rows[1]
    leaves = leaves_of(rows)
    scan = _exact(rows, leaves, 8, 12)
    assert scan.findings[0][:2] == ("entry", "entry 9")
    assert len(scan.levels[0]) == 4 * 32 and scan.levels[0][32:64] == b"\x00" * 32
    assert _fast(rows, leaves, 8, 12) is None


@pytest.mark.parametrize(("seq", "prev", "last", "problem"), [
    (0, None, None, None),
    (1, None, None, "sequence 1 where 0 was expected"),
    (0, b"h", None, "first entry has a previous hash"),
    (5, b"h", (4, b"h"), None),
    (6, b"h", (4, b"h"), "sequence 6 where 5 was expected"),
    (5, b"x", (4, b"h"), "previous-entry hash does not match entry 4"),
])
def test_chain_finding(seq: int, prev: bytes | None, last: tuple[int, bytes] | None, problem: str | None) -> None:
    found = chain_finding("d", seq, prev, last)
    assert (found is None) if problem is None else (problem in found)
