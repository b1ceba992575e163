"""The per-chunk half of the audit: one aligned run of 2^k entries re-hashed and checked on its own.

Chunks are aligned to a power of two, so every complete subtree inside one is built from that chunk alone;
the parent (evidence.audit) joins chunks by their roots and stitches each device chain across chunk
boundaries from the `ChainEnds` a chunk reports. That is what lets worker processes scan chunks in
parallel, each with its own PostgreSQL connection.

Each chunk is checked fast, then exactly if needed: the fast path only confirms (bulk comparisons and one
`startswith` per entry); the first sign of anything unexpected re-runs the chunk through the exact
per-entry path, which locates and names every finding.
"""

from __future__ import annotations

import hashlib
from binascii import hexlify
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import numpy as np
import rfc8785

from evidence.entry_bytes import chain_fields, media_hashes

CHUNK_LEVEL = 16  # 65,536 entries: ~50 MB of entries in flight per worker
MISSING_LEAF = b"\x00" * 32  # stands in for a deleted row, so later leaves keep their positions

COLUMNS = "idx, leaf_hash, entry, device_id, device_seq"  # what a chunk scan reads of each entry row
CHUNK_QUERY = f"SELECT {COLUMNS} FROM evidence_entries WHERE idx >= %s AND idx < %s ORDER BY idx"
_DEVICE_KEY = b',"device_id":'
_PREV_KEY = b',"device_prev_hash":'


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


def scan_chunk(cur: Any, start: int, end: int, want_media: bool) -> ChunkScan:
    """Fetch and check entries [start, end) through a binary cursor."""
    cur.execute(CHUNK_QUERY, (start, end))
    rows = cur.fetchall()
    sha = hashlib.sha256
    leaves = [sha(b"\x00" + r[2]).digest() for r in rows]
    scan = _fast(rows, leaves, start, end) if rows else None
    if scan is None:
        scan = _exact(rows, leaves, start, end)
    if want_media:
        for r in rows:
            scan.media.update(media_hashes(r[2]))
    return scan


def build_levels(leaves: list[bytes]) -> list[bytes]:
    """Every complete subtree of a chunk, level by level (only full pairs combine), concatenated."""
    sha = hashlib.sha256
    levels = [leaves]
    while len(levels[-1]) > 1:
        cur = levels[-1]
        levels.append([sha(b"\x01" + cur[i] + cur[i + 1]).digest() for i in range(0, len(cur) - 1, 2)])
    return [b"".join(level) for level in levels]


def _fast(rows: list[tuple], leaves: list[bytes], start: int, end: int) -> ChunkScan | None:
    """Confirm a clean chunk in bulk; None at the first thing to look at closely."""
    n = len(rows)
    idx, stored, data, devices, seqs = zip(*rows, strict=True)
    if n != end - start or idx[0] != start or idx[-1] != end - 1:  # idx is unique and sorted: no gaps
        return None
    if b"".join(leaves) != b"".join(stored):
        return None
    codes = np.fromiter(map({}.setdefault, devices, count()), dtype=np.int64, count=n)
    seq = np.fromiter(seqs, dtype=np.int64, count=n)
    order = np.argsort(codes, kind="stable")  # grouped by device, in log order within a device
    grouped = codes[order]
    same = grouped[1:] == grouped[:-1]
    prev_pos, pos = order[:-1][same], order[1:][same]
    if not (seq[pos] == seq[prev_pos] + 1).all():
        return None
    # Every entry that follows another of its device in this chunk must carry, at its first device key,
    # exactly the fragment the columns and the predecessor's leaf predict (one startswith per entry).
    head = {d: _DEVICE_KEY + rfc8785.dumps(d) + _PREV_KEY + b'"' for d in set(devices)}
    for i, j in zip(pos.tolist(), prev_pos.tolist(), strict=True):
        d = data[i]
        if not d.startswith(b'%s%s","device_seq":%d,' % (head[devices[i]], hexlify(leaves[j]), seqs[i]),
                            d.find(_DEVICE_KEY)):
            return None
    scan = ChunkScan(start, n, build_levels(leaves))
    firsts = order[np.concatenate(([True], ~same))].tolist()
    lasts = order[np.concatenate((~same, [True]))].tolist()
    for i, j in zip(firsts, lasts, strict=True):
        device, first_seq, first_prev = chain_fields(data[i])
        if device != devices[i] or first_seq != seqs[i]:
            return None
        scan.ends[device] = ChainEnds(idx[i], first_seq, first_prev, seqs[j], leaves[j])
    return scan


def _exact(rows: list[tuple], leaves: list[bytes], start: int, end: int) -> ChunkScan:
    """Per entry: locate every gap, hash mismatch, column mismatch and chain break inside the chunk."""
    findings: list[tuple[str, str, str]] = []
    placed = [MISSING_LEAF] * (end - start)
    heads: dict[str, tuple[int, bytes]] = {}
    ends: dict[str, ChainEnds] = {}
    firsts: dict[str, tuple[int, int, bytes | None]] = {}
    expect = start
    for (idx, stored, data, device_col, seq_col), leaf in zip(rows, leaves, strict=False):
        if idx != expect:
            findings.append(("entry", f"entry {expect}", f"missing: entries jump from {expect - 1} to {idx}"))
        expect = idx + 1
        placed[idx - start] = leaf
        if leaf != stored:
            findings.append(("entry", f"entry {idx}", "entry bytes do not hash to the stored leaf hash"))
        try:
            device, seq, prev = chain_fields(data)
        except ValueError as exc:
            findings.append(("entry", f"entry {idx}", f"unreadable entry: {exc}"))
            continue
        if device != device_col or seq != seq_col:
            findings.append(("entry", f"entry {idx}", "device_id/device_seq columns differ from the entry bytes"))
        if device in heads:
            problem = chain_finding(device, seq, prev, heads[device])
            if problem:
                findings.append(("chain", f"entry {idx}", problem))
        else:
            firsts[device] = (idx, seq, prev)
        heads[device] = (seq, leaf)
    if expect < end:
        findings.append(("entry", f"entry {expect}", f"missing: no entries from {expect} to {end - 1}"))
    for device, (idx, seq, prev) in firsts.items():
        ends[device] = ChainEnds(idx, seq, prev, *heads[device])
    return ChunkScan(start, len(rows), build_levels(placed), findings, ends)


# ---------------------------------------------------------------- worker processes

_worker: dict[str, Any] = {}


def worker_init(conninfo: str) -> None:
    import gc

    import psycopg

    gc.disable()  # millions of small, acyclic bytes objects: full collections would find nothing
    conn = psycopg.connect(conninfo, autocommit=True)
    _worker["cur"] = conn.cursor(binary=True)


def worker_scan(job: tuple[int, int, bool]) -> ChunkScan:
    start, end, want_media = job
    return scan_chunk(_worker["cur"], start, end, want_media)


__all__ = ["CHUNK_LEVEL", "CHUNK_QUERY", "COLUMNS", "ChainEnds", "ChunkScan", "build_levels", "chain_finding",
           "scan_chunk"]
