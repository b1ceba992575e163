"""The Merkle tree in PostgreSQL: reading complete subtrees for proofs and integrating new leaves.

Layout (see migration 0010): leaf hashes live in `evidence_entries`, and `evidence_nodes` holds the
complete subtrees at every STRIDE-th level. A node at a level in between is folded from at most
2^(STRIDE-1) stored children, so a proof at 1M leaves touches ~100 rows by primary key in one query, and the
tree costs ~n/15 rows instead of 2n.
"""

from __future__ import annotations

import hashlib

import psycopg

from evidence.merkle import Node, Range, nodes_for, range_hash

STRIDE = 4


def _stored_children(level: int, pos: int) -> tuple[int, int, int]:
    """(base level, first position, count) of the stored nodes a complete node is folded from."""
    base = level - level % STRIDE
    span = 1 << (level - base)
    return base, pos * span, span


def fold(hashes: list[bytes]) -> bytes:
    """Hash a power-of-two run of sibling subtrees up to their common ancestor."""
    sha = hashlib.sha256
    while len(hashes) > 1:
        hashes = [sha(b"\x01" + hashes[i] + hashes[i + 1]).digest() for i in range(0, len(hashes), 2)]
    return hashes[0]


class TreeReader:
    """Complete-subtree hashes from the database, fetched in one round trip per request."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def fetch(self, nodes: set[Node]) -> dict[Node, bytes]:
        leaves: set[int] = set()
        stored: set[Node] = set()
        for level, pos in nodes:
            base, first, count = _stored_children(level, pos)
            if base == 0:
                leaves.update(range(first, first + count))
            else:
                stored.update((base, p) for p in range(first, first + count))
        levels, poss = [lv for lv, _ in stored], [p for _, p in stored]
        rows = self.conn.execute(
            "SELECT 0, idx, leaf_hash FROM evidence_entries WHERE idx = ANY(%s) "
            "UNION ALL SELECT n.level, n.pos, n.hash FROM evidence_nodes n "
            "JOIN unnest(%s::smallint[], %s::bigint[]) AS k(l, p) ON n.level = k.l AND n.pos = k.p",
            (sorted(leaves), levels, poss),
        ).fetchall()
        have = {(lv, p): bytes(h) for lv, p, h in rows}
        out: dict[Node, bytes] = {}
        for level, pos in nodes:
            base, first, count = _stored_children(level, pos)
            try:
                out[(level, pos)] = fold([have[(base, p)] for p in range(first, first + count)])
            except KeyError as exc:
                raise LookupError(f"tree node {exc.args[0]} missing: the tree is not integrated that far") from None
        return out

    def hashes(self, ranges: list[Range]) -> list[bytes]:
        """MTH of each [start, end) range, as a proof lists them."""
        got = self.fetch(nodes_for(ranges))
        return [range_hash(s, e, lambda lv, p: got[(lv, p)]) for s, e in ranges]

    def root(self, size: int) -> bytes:
        return self.hashes([(0, size)])[0] if size else hashlib.sha256(b"").digest()


def new_nodes(conn: psycopg.Connection, old_size: int, new_leaves: list[bytes]) -> list[tuple[int, int, bytes]]:
    """The stored-level nodes that become complete when `new_leaves` follow `old_size` leaves.

    Works level by level: the new nodes at level L are folded from level L-STRIDE, whose new part is in
    memory and whose older left part (at most 2^STRIDE - 1 nodes) is read with one range query.
    """
    out: list[tuple[int, int, bytes]] = []
    new_size = old_size + len(new_leaves)
    below, below_first = new_leaves, old_size  # the new nodes of the level below, and the first's position
    level = STRIDE
    while True:
        first, end = old_size >> level, new_size >> level
        if first >= end:
            break
        child_first = first << STRIDE
        old_children: list[bytes] = []
        if child_first < below_first:
            if level == STRIDE:
                rows = conn.execute(
                    "SELECT leaf_hash FROM evidence_entries WHERE idx >= %s AND idx < %s ORDER BY idx",
                    (child_first, below_first),
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT hash FROM evidence_nodes WHERE level = %s AND pos >= %s AND pos < %s ORDER BY pos",
                    (level - STRIDE, child_first, below_first),
                ).fetchall()
            old_children = [bytes(r[0]) for r in rows]
            if len(old_children) != below_first - child_first:
                raise LookupError(f"tree level {level - STRIDE} has a hole below position {below_first}")
        children = old_children + below
        span = 1 << STRIDE
        made = [fold(children[i * span : (i + 1) * span]) for i in range(end - first)]
        out.extend((level, first + i, h) for i, h in enumerate(made))
        below, below_first = made, first
        level += STRIDE
    return out
