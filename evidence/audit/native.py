"""The audit's fastest confirm path: a chunk streamed by COPY BINARY and read by the C accelerator.

`evidence.audit._scan` (built from evidence/audit/_scan.c where a C compiler and OpenSSL headers exist)
parses each row, re-hashes the entry bytes with OpenSSL, reads the chain prefix and follows each device's
chain through the chunk; this module streams the rows and builds the chunk's subtrees. Like the Python fast
path it only confirms: `scan` returns None at the first thing that is not plainly clean, and
evidence.audit.scan then re-reads the chunk row by row and names every finding. Without the accelerator,
`available()` is False and the Python paths do all the work.

Why COPY and not a cursor: PostgreSQL then sends the rows as one stream, which the C loop reads straight from
libpq (psycopg's PGconn.get_copy_data) and hashes row by row while the server produces the next; no Python
object is made per column and no Python code runs per row (figures: bench/evidence_bench.py).
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import pq
from psycopg.errors import error_from_result

from evidence.audit.chunk import ChainEnds, ChunkScan

try:
    from evidence.audit import _scan
except ImportError:  # not built here: the pure-Python paths give the same results
    _scan = None

COPY_COLUMNS = "idx, device_seq, leaf_hash, entry, device_id, entry_type"  # the row layout evidence/audit/_scan.c reads
# evidence/audit/_scan.c's device_record: first idx, first seq, last seq, first entry's previous hash, last leaf,
# whether that previous hash is present (null in a device's very first entry)
DEVICE_RECORD = struct.Struct("=qqq32s32s?7x")


def available() -> bool:
    return _scan is not None


def _finish(pg: Any) -> None:
    """Collect the results after the copy data; raise the first error."""
    error = None
    while (res := pg.get_result()) is not None:
        if error is None and res.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.COPY_OUT):
            error = error_from_result(res)
    if error is not None:
        raise error


def scan(conn: psycopg.Connection, start: int, end: int, want_media: bool) -> ChunkScan | None:
    """Confirm entries [start, end) are clean, or None if anything needs the exact path."""
    pg = conn.pgconn
    pg.send_query(f"COPY (SELECT {COPY_COLUMNS} FROM evidence_entries WHERE idx >= {int(start)} "
                  f"AND idx < {int(end)} ORDER BY idx) TO STDOUT (FORMAT binary)".encode())
    res = pg.get_result()
    if res is None or res.status != pq.ExecStatus.COPY_OUT:
        _finish(pg)
        raise error_from_result(res) if res is not None else psycopg.OperationalError("COPY did not start")
    try:
        return scan_stream(pg.get_copy_data, start, end, want_media)
    finally:
        _finish(pg)


def scan_stream(get: Callable[[int], tuple[int, Any]], start: int, end: int, want_media: bool) -> ChunkScan | None:
    """`scan` over any source of COPY BINARY messages: get(0) -> (nbytes, buffer), nbytes < 0 at the end."""
    assert _scan is not None, "evidence.audit._scan is not built"
    devices: dict[bytes, int] = {}
    state = bytearray()
    media: set[str] | None = set() if want_media else None
    rows, leaves, clean = _scan.scan_copy(get, start, end - start, devices, state, media)
    if not clean or rows == 0:
        return None
    result = ChunkScan(start, rows, _scan.build_levels(leaves), media=media or set(), path="native")
    try:
        names = {code: device.decode() for device, code in devices.items()}
    except UnicodeDecodeError:  # not UTF-8 (a SQL_ASCII database): the Python paths decode it as psycopg does
        return None
    for code, name in names.items():
        first_idx, first_seq, last_seq, first_prev, last_leaf, has_prev = DEVICE_RECORD.unpack_from(
            state, code * DEVICE_RECORD.size)
        result.ends[name] = ChainEnds(first_idx, first_seq, first_prev if has_prev else None, last_seq, last_leaf)
    return result


def tree_roots(sizes: array, chunks: list[list[bytes]], top: list[bytes], chunk_level: int) -> bytes:
    """_scan.roots: the roots of the first `size` leaves, 32 bytes each (see evidence.audit.tree.RebuiltTree)."""
    assert _scan is not None, "evidence.audit._scan is not built"
    return _scan.roots(sizes, chunks, top, chunk_level)
