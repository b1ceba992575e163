"""RFC 6962 Merkle tree arithmetic: which subtrees a root or proof needs, and how to combine them.

Storage-agnostic: callers give a function returning the hash of a *complete* subtree (level h, position
p covers leaves [p*2^h, (p+1)*2^h)). Complete subtrees never change once full (leaves are only ever added), so
they can be stored once; a partial right edge is always rebuilt from complete ones. Hashing leaves and nodes
and checking proofs live in `evidence.verify`, the file that travels in bundles.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from evidence.verify import node_hash

EMPTY_ROOT = hashlib.sha256(b"").digest()

Range = tuple[int, int]  # [start, end) of leaf indexes
Node = tuple[int, int]  # (level, position) of a complete subtree
NodeGetter = Callable[[int, int], bytes]


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The subtrees whose hashes form PATH(index, D[size]), leaf sibling first (RFC 6962 2.1.1)."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} outside tree of size {size}")
    out: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start += k
    out.reverse()
    return out


def consistency_ranges(m: int, n: int) -> list[Range]:
    """The subtrees whose hashes form PROOF(m, D[n]) (RFC 6962 2.1.2); empty when m == n."""
    if not 0 < m <= n:
        raise ValueError(f"no consistency proof from {m} to {n}")
    out: list[Range] = []
    start, end, complete = 0, n, True
    while True:
        size = end - start
        if m == size:
            if not complete:
                out.append((start, end))
            break
        k = split_point(size)
        if m <= k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start, m, complete = start + k, m - k, False
    out.reverse()
    return out


def complete_nodes(start: int, end: int) -> list[Node]:
    """Decompose [start, end) into the complete subtrees MTH combines (at most 2*log2 n of them)."""
    out: list[Node] = []
    stack = [(start, end)]
    while stack:
        s, e = stack.pop()
        n = e - s
        if n & (n - 1) == 0 and s % n == 0:
            out.append((n.bit_length() - 1, s // n))
        else:
            k = split_point(n)
            stack.append((s + k, e))
            stack.append((s, s + k))
    return out


def range_hash(start: int, end: int, node: NodeGetter) -> bytes:
    """MTH of leaves [start, end) from complete-subtree hashes."""
    if end - start == 0:
        return EMPTY_ROOT
    parts = [node(level, pos) for level, pos in complete_nodes(start, end)]
    # Left-balanced: the decomposition is left to right with shrinking sizes, so fold from the right.
    acc = parts[-1]
    for h in reversed(parts[:-1]):
        acc = node_hash(h, acc)
    return acc


def nodes_for(ranges: Iterable[Range]) -> set[Node]:
    return {n for s, e in ranges for n in complete_nodes(s, e)}


def root_from_leaf_hashes(leaves: list[bytes]) -> bytes:
    """MTH over leaf hashes in O(n) hashing, level by level (used by the audit and tests)."""
    if not leaves:
        return EMPTY_ROOT
    levels = build_levels(leaves)
    return range_hash(0, len(leaves), lambda level, pos: levels[level][pos])


def build_levels(leaves: list[bytes], top: int | None = None) -> list[list[bytes]]:
    """All complete-subtree hashes: levels[h][p]. Only full pairs are combined (right edge stays open)."""
    levels = [leaves]
    sha = hashlib.sha256
    while len(levels[-1]) > 1 and (top is None or len(levels) <= top):
        cur = levels[-1]
        levels.append([sha(b"\x01" + cur[i] + cur[i + 1]).digest() for i in range(0, len(cur) - 1, 2)])
    return levels
