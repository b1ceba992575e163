"""The tree the audit rebuilds from the entries, and the roots it checks stored tree heads against.

Below the chunk level the subtrees come from the chunk scans (evidence.audit.chunk.ChunkScan.levels); above
it they are built here from the chunk roots. Memory is two hashes per entry (~64 MB at 1M entries).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

from evidence.audit import native as accelerator
from evidence.audit.chunk import ChunkScan
from evidence.merkle import build_levels, range_hash

NO_ROOT = b"\x00" * 32  # what `roots` gives for a size beyond the rebuilt tree


class RebuiltTree:
    """Per-chunk subtree levels below the chunk level, joined above it; `node(level, pos)` reads either."""

    def __init__(self, chunk_level: int) -> None:
        self.chunk_level = chunk_level
        self.chunks: list[list[bytes]] = []
        self.top: list[bytes] = []  # levels above the chunk level, each concatenated (32 bytes a node)
        self.size = 0

    def add(self, scan: ChunkScan, span: int) -> None:
        self.chunks.append(scan.levels)
        self.size += span

    def finish(self) -> None:
        cl = self.chunk_level
        roots = [levels[cl] for levels in self.chunks if len(levels) > cl and levels[cl]]
        self.top = [b"".join(level) for level in build_levels(roots)[1:]] if roots else []

    def node(self, level: int, pos: int) -> bytes:
        """The complete subtree (level, pos); IndexError where it is not complete."""
        cl = self.chunk_level
        if level > cl:
            if level - cl - 1 >= len(self.top):
                raise IndexError(level, pos)
            hashes, local = self.top[level - cl - 1], pos
        else:
            chunk = (pos << level) >> cl
            if chunk >= len(self.chunks) or level >= len(self.chunks[chunk]):
                raise IndexError(level, pos)
            hashes, local = self.chunks[chunk][level], pos - (chunk << (cl - level))
        h = hashes[local * 32:local * 32 + 32]
        if len(h) != 32:
            raise IndexError(level, pos)
        return h

    def level(self, level: int) -> bytes:
        """Every complete subtree at `level`, in order, concatenated."""
        cl = self.chunk_level
        if level > cl:
            return self.top[level - cl - 1] if level - cl - 1 < len(self.top) else b""
        return b"".join(levels[level] for levels in self.chunks if len(levels) > level)

    def roots(self, sizes: Iterable[int]) -> bytes:
        """The root of the first `size` leaves for each size, 32 bytes each, concatenated (zeros for a size
        beyond the rebuilt tree). A log stores a tree head per sequencer batch, up to one per entry: in C that
        is ~1.5 us a head, ~11 in Python."""
        if accelerator.available():  # a size beyond the tree needs a subtree that is not complete: zeros
            packed = sizes if isinstance(sizes, array) else array("q", sizes)
            return accelerator.tree_roots(packed, self.chunks, self.top, self.chunk_level)
        return b"".join(range_hash(0, s, self.node) if 0 <= s <= self.size else NO_ROOT for s in sizes)
