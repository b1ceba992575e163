"""The audit's fastest confirm path: a chunk streamed by COPY BINARY and read by the C accelerator.

`evidence._scan` (built from evidence/_scan.c where a C compiler and OpenSSL headers exist) parses each row,
re-hashes the entry bytes with OpenSSL, reads the chain prefix and follows each device's chain through the
chunk; this module streams the rows and builds the chunk's subtrees. Like the Python fast path it only
confirms: `scan` returns None at
the first thing that is not plainly clean, and evidence.audit_scan then re-reads the chunk row by row and
names every finding. Without the accelerator, `available()` is False and the Python paths do all the work.

Why COPY and not a cursor: PostgreSQL then sends the rows as one stream that is hashed batch by batch while
the server produces the next, and the client makes no Python object per column (figures: bench/evidence.py).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import pq
from psycopg.errors import error_from_result

from evidence.audit_chunk import ChainEnds, ChunkScan

try:
    from evidence import _scan
except ImportError:  # not built here: the pure-Python paths give the same results
    _scan = None

COPY_COLUMNS = "idx, device_seq, leaf_hash, entry, device_id"  # the row layout evidence/_scan.c reads
BATCH_ROWS = 4096  # rows per C call: a batch (~3 MB) is hashed while it is still in the CPU cache
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
# evidence/_scan.c's device_record: first idx, first seq, last seq, first entry's previous hash, last leaf,
# whether that previous hash is present (null in a device's very first entry)
DEVICE_RECORD = struct.Struct("=qqq32s32s?7x")


def available() -> bool:
    return _scan is not None


def copy_batches(conn: psycopg.Connection, start: int, end: int, batch: int = BATCH_ROWS) -> Iterator[list[Any]]:
    """The COPY BINARY data rows of entries [start, end) in log order, `batch` at a time (header and trailer
    removed). Reads through the connection's libpq handle: psycopg's Copy object costs ~0.3 us more per row."""
    pg = conn.pgconn
    pg.send_query(f"COPY (SELECT {COPY_COLUMNS} FROM evidence_entries WHERE idx >= {int(start)} "
                  f"AND idx < {int(end)} ORDER BY idx) TO STDOUT (FORMAT binary)".encode())
    res = pg.get_result()
    if res is None or res.status != pq.ExecStatus.COPY_OUT:
        _finish(pg)
        raise error_from_result(res) if res is not None else psycopg.OperationalError("COPY did not start")
    rows: list[Any] = []
    first = True
    get = pg.get_copy_data
    while True:
        nbytes, data = get(0)
        if nbytes < 0:
            break
        if first:
            data = _skip_header(data)
            first = False
        if nbytes == 2 and data == b"\xff\xff":  # the trailer (a data row is never 2 bytes)
            continue
        rows.append(data)
        if len(rows) == batch:
            yield rows
            rows = []
    _finish(pg)
    if rows:
        yield rows


def _skip_header(data: Any) -> Any:
    if bytes(data[:11]) != _SIGNATURE or len(data) < 19:
        raise psycopg.DataError("not a PostgreSQL COPY BINARY stream")
    return data[19 + int.from_bytes(data[15:19], "big"):]


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
    assert _scan is not None, "evidence._scan is not built"
    devices: dict[bytes, int] = {}
    state = bytearray()
    media: set[str] | None = set() if want_media else None
    leaves: list[bytes] = []
    n, clean = 0, True
    for rows in copy_batches(conn, start, end):
        if clean:  # after the first doubt, only drain the stream
            batch, clean = _scan.scan_rows(rows, start + n, devices, state, media)
            leaves.append(batch)
        n += len(rows)
    if not clean or n != end - start or n == 0:
        return None
    result = ChunkScan(start, n, _scan.build_levels(b"".join(leaves)), media=media or set())
    for device, code in devices.items():
        first_idx, first_seq, last_seq, first_prev, last_leaf, has_prev = DEVICE_RECORD.unpack_from(
            state, code * DEVICE_RECORD.size)
        result.ends[device.decode()] = ChainEnds(first_idx, first_seq, first_prev if has_prev else None, last_seq,
                                                 last_leaf)
    return result
