"""Property tests: our tree arithmetic against the naive recursive RFC 6962 reference, sizes up to 256."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.merkle import build_levels, consistency_ranges, inclusion_ranges, range_hash, root_from_leaf_hashes
from evidence.verify import VerificationError, inclusion_proof_length, leaf_hash, verify_consistency, verify_inclusion
from testkit.evidence_helpers import ref_mth, ref_path, ref_subproof

LEAVES = [b"", *(i.to_bytes(2, "big") * (1 + i % 5) for i in range(1, 256))]  # distinct, varied lengths
HASHES = [leaf_hash(x) for x in LEAVES]
LEVELS = build_levels(HASHES)


def _node(level: int, pos: int) -> bytes:
    return LEVELS[level][pos]


def _hashes(ranges: list[tuple[int, int]]) -> list[bytes]:
    return [range_hash(s, e, _node) for s, e in ranges]


def test_root_every_size_up_to_256() -> None:
    for n in range(257):
        want = ref_mth(LEAVES[:n])
        assert root_from_leaf_hashes(HASHES[:n]) == want
        assert range_hash(0, n, _node) == want


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_inclusion_proofs(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 256))
    m = data.draw(st.integers(0, n - 1))
    path = _hashes(inclusion_ranges(m, n))
    assert path == ref_path(m, LEAVES[:n])
    assert len(path) == inclusion_proof_length(m, n)
    root = ref_mth(LEAVES[:n])
    verify_inclusion(m, n, HASHES[m], path, root)
    if path:
        k = data.draw(st.integers(0, len(path) - 1))
        bad = list(path)
        bad[k] = bytes([bad[k][0] ^ 1]) + bad[k][1:]
        with pytest.raises(VerificationError):
            verify_inclusion(m, n, HASHES[m], bad, root)
        with pytest.raises(VerificationError):
            verify_inclusion(m, n, HASHES[m], path[:-1], root)
    with pytest.raises(VerificationError):
        verify_inclusion(m, n, HASHES[(m + 1) % 256], path, root)
    if n > 1:
        with pytest.raises(VerificationError):
            verify_inclusion((m + 1) % n, n, HASHES[m], path, root)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_consistency_proofs(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 256))
    m = data.draw(st.integers(1, n))
    proof = _hashes(consistency_ranges(m, n))
    assert proof == (ref_subproof(m, LEAVES[:n], True) if m < n else [])
    r1, r2 = ref_mth(LEAVES[:m]), ref_mth(LEAVES[:n])
    verify_consistency(m, n, r1, r2, proof)
    if m < n:
        k = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[k] = bytes([bad[k][0] ^ 1]) + bad[k][1:]
        with pytest.raises(VerificationError):
            verify_consistency(m, n, r1, r2, bad)
        with pytest.raises(VerificationError):
            verify_consistency(m, n, r1, r2, proof[:-1])
        with pytest.raises(VerificationError):
            verify_consistency(m, n, r2, r1, proof)
        other = ref_mth([b"x", *LEAVES[1:m]])
        with pytest.raises(VerificationError):
            verify_consistency(m, n, other, r2, proof)


def test_all_small_consistency_exhaustive() -> None:
    for n in range(1, 65):
        for m in range(1, n + 1):
            verify_consistency(m, n, ref_mth(LEAVES[:m]), ref_mth(LEAVES[:n]), _hashes(consistency_ranges(m, n)))
