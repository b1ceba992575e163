"""The audit's rebuilt tree without a database: its nodes and the roots it checks tree heads against are RFC
6962's, whether the C accelerator or Python computes them."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.audit import native as accelerator
from evidence.audit.chunk import ChunkScan
from evidence.audit.scan import build_levels
from evidence.audit.tree import NO_ROOT, RebuiltTree
from testkit.evidence_helpers import ref_mth


def rebuilt(entries: list[bytes], chunk_level: int) -> RebuiltTree:
    leaves = [hashlib.sha256(b"\x00" + e).digest() for e in entries]
    tree = RebuiltTree(chunk_level)
    span = 1 << chunk_level
    for s in range(0, len(leaves), span):
        part = leaves[s:s + span]
        tree.add(ChunkScan(s, len(part), build_levels(part)), len(part))
    tree.finish()
    return tree


ENGINES = ["python", pytest.param("native", marks=pytest.mark.skipif(not accelerator.available(),
                                                                      reason="evidence.audit._scan is not built"))]


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 70), chunk_level=st.integers(0, 4))
def test_roots_at_every_size_are_rfc6962(engine: str, n: int, chunk_level: int) -> None:
    entries = [b"entry %d" % i for i in range(n)]
    tree = rebuilt(entries, chunk_level)
    sizes = [*range(n + 1), n + 1, n + 50, -1]
    with pytest.MonkeyPatch.context() as mp:
        if engine == "python":
            mp.setattr(accelerator, "_scan", None)
        got = tree.roots(sizes)
    assert got[:32 * (n + 1)] == b"".join(ref_mth(entries[:s]) for s in range(n + 1))
    assert got[32 * (n + 1):] == NO_ROOT * 3  # beyond the rebuilt tree: no root, so the audit reports the head


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 70), chunk_level=st.integers(0, 4), data=st.data())
def test_node_reads_complete_subtrees_only(n: int, chunk_level: int, data: st.DataObject) -> None:
    entries = [b"e%d" % i for i in range(n)]
    tree = rebuilt(entries, chunk_level)
    level = data.draw(st.integers(0, 7))
    pos = data.draw(st.integers(0, 70))
    first, last = pos << level, ((pos + 1) << level)
    if last <= n:
        assert tree.node(level, pos) == ref_mth(entries[first:last])
    else:
        with pytest.raises(IndexError):
            tree.node(level, pos)
