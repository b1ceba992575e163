"""What one audit chunk reports, whichever path scanned it (evidence.audit.native, evidence.audit.scan).

Chunks are aligned runs of 2^k entries, so every complete subtree inside one is built from that chunk alone;
the parent (evidence.audit.auditor) joins chunks by their roots and stitches each device chain across chunk
boundaries from the `ChainEnds` a chunk reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CHUNK_LEVEL = 16  # 65,536 entries: ~50 MB of entries in flight per worker
MISSING_LEAF = b"\x00" * 32  # stands in for a deleted row, so later leaves keep their positions
Job = tuple[int, int, bool, bool]  # start, end, want_media, native: what a chunk scan is given besides a cursor


@dataclass(frozen=True)
class ChainEnds:
    """One device's first and last entry inside a chunk: what the parent needs to stitch its chain."""

    first_idx: int
    first_seq: int
    first_prev: bytes | None
    last_seq: int
    last_leaf: bytes


@dataclass
class ChunkScan:
    start: int
    entries: int  # rows found (fewer than the chunk's span if rows were deleted)
    levels: list[bytes]  # complete-subtree hashes per level, concatenated, 32 bytes each
    findings: list[tuple[str, str, str]] = field(default_factory=list)
    ends: dict[str, ChainEnds] = field(default_factory=dict)
    media: set[str] = field(default_factory=set)
    path: str = "exact"  # which path confirmed it: native (C accelerator), fast (Python) or exact (per entry)


def chain_finding(device: str, seq: int, prev: bytes | None, last: tuple[int, bytes] | None) -> str | None:
    """Why an entry does not continue its device's chain, given the device's previous (seq, leaf)."""
    if last is None:
        if seq != 0:
            return f"device {device}: sequence {seq} where 0 was expected"
        if prev is not None:
            return f"device {device}: first entry has a previous hash"
    elif seq != last[0] + 1:
        return f"device {device}: sequence {seq} where {last[0] + 1} was expected"
    elif prev != last[1]:
        return f"device {device}: previous-entry hash does not match entry {seq - 1} of that device"
    return None
