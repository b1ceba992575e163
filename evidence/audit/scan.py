"""The per-chunk half of the audit: one aligned run of 2^k entries re-hashed and checked on its own.

Chunks are aligned to a power of two, so every complete subtree inside one is built from that chunk alone;
the parent (evidence.audit.auditor) joins chunks by their roots and stitches each device chain across chunk
boundaries from the `ChainEnds` a chunk reports. That is what lets worker processes scan chunks in
parallel, each with its own PostgreSQL connection.

Each chunk is checked fast, then exactly if needed: first by the C accelerator's confirm path where it is
built (evidence.audit.native), else by the Python fast path here (bulk comparisons, one regex match and one
`startswith` per entry). Both only confirm; the first sign of anything unexpected re-runs the chunk through
the exact per-entry path, which locates and names every finding.
"""

from __future__ import annotations

import hashlib
import re
from binascii import hexlify
from itertools import count
from typing import Any

import numpy as np
import rfc8785

from evidence.audit import native as accelerator
from evidence.audit.chunk import MISSING_LEAF, ChainEnds, ChunkScan, Job, chain_finding
from evidence.entry_bytes import SIG_AND_TYPE, media_hashes, row_fields

# What a chunk scan reads of each entry row: every column derived from the entry bytes (appended_at is not:
# see migration 0010).
COLUMNS = "idx, leaf_hash, entry, device_id, device_seq, entry_type"
CHUNK_QUERY = f"SELECT {COLUMNS} FROM evidence_entries WHERE idx >= %s AND idx < %s ORDER BY idx"
_DEVICE_KEY = b',"device_id":'
_PREV_KEY = b',"device_prev_hash":'
# What canonical bytes hold before the chain fields (a subset of entry_bytes' prefix: strings without escapes).
# The fast path checks the chain fields right where this ends, never at the first `device_id` key it finds:
# a forged entry may carry decoy chain fields in an object ahead of the real ones.
_HEAD = re.compile(rb'\{"calibration_cert_id":(?:null|"[^"\\]*"),"capture_time":(?:null|"[^"\\]*")')


def scan_chunk(cur: Any, start: int, end: int, want_media: bool, native: bool = True) -> ChunkScan:
    """Check entries [start, end) through a binary cursor: the C accelerator's confirm path where it is built
    (and `native`), else or on any doubt the Python paths below."""
    if native and accelerator.available():
        scan = accelerator.scan(cur.connection, start, end, want_media)
        if scan is not None:
            return scan
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
    idx, stored, data, devices, seqs, types = zip(*rows, strict=True)
    if idx != tuple(range(start, end)):
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
    # Every entry that follows another of its device in this chunk must carry, right after its canonical head,
    # exactly the fragment the columns and the predecessor's leaf predict (one match, one startswith per entry;
    # a second look only where the entry holds a device signature).
    head = {d: _DEVICE_KEY + rfc8785.dumps(d) + _PREV_KEY + b'"' for d in set(devices)}
    kind = {t: rfc8785.dumps(t) for t in set(types)}
    tail = {t: b'"device_sig":null,"entry_type":%s,' % k for t, k in kind.items()}
    match = _HEAD.match
    for i, j in zip(pos.tolist(), prev_pos.tolist(), strict=True):
        d = data[i]
        m = match(d)
        if m is None:
            return None
        chain = b'%s%s","device_seq":%d,' % (head[devices[i]], hexlify(leaves[j]), seqs[i])
        if not d.startswith(chain + tail[types[i]], m.end()):
            if not d.startswith(chain, m.end()):
                return None
            signed = SIG_AND_TYPE.match(d, m.end() + len(chain))
            if signed is None or signed.group(1) != kind[types[i]]:
                return None
    scan = ChunkScan(start, n, build_levels(leaves), path="fast")
    firsts = order[np.concatenate(([True], ~same))].tolist()
    lasts = order[np.concatenate((~same, [True]))].tolist()
    for i, j in zip(firsts, lasts, strict=True):
        device, first_seq, first_prev, entry_type = row_fields(data[i])
        if device != devices[i] or first_seq != seqs[i] or entry_type != types[i]:
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
    for (idx, stored, data, device_col, seq_col, type_col), leaf in zip(rows, leaves, strict=False):
        if idx != expect:
            findings.append(("entry", f"entry {expect}", f"missing: entries jump from {expect - 1} to {idx}"))
        expect = idx + 1
        placed[idx - start] = leaf
        if leaf != stored:
            findings.append(("entry", f"entry {idx}", "entry bytes do not hash to the stored leaf hash"))
        try:
            device, seq, prev, entry_type = row_fields(data)
        except ValueError as exc:
            findings.append(("entry", f"entry {idx}", f"unreadable entry: {exc}"))
            continue
        differ = [f"{name} column {col!r} differs from the entry bytes ({val!r})" for name, col, val in (
            ("device_id", device_col, device), ("device_seq", seq_col, seq), ("entry_type", type_col, entry_type))
            if col != val]
        if differ:
            findings.append(("entry", f"entry {idx}", "; ".join(differ)))
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


def worker_scan(job: Job) -> ChunkScan:
    return scan_chunk(_worker["cur"], *job)

