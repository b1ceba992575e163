"""The C accelerator's confirm path (evidence/audit/_scan.c via evidence.audit.native) without a database: fed
COPY BINARY messages built here, it must confirm exactly the chunks the exact path finds clean, with the same
subtrees, chain ends and media, and give up on anything else."""

from __future__ import annotations

import hashlib
import shutil
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.audit import native as accelerator
from evidence.audit.chunk import ChunkScan
from evidence.audit.scan import _exact, build_levels
from evidence.entry import MediaRef, encode
from evidence.entry_bytes import media_hashes
from testkit.audit_rows import TAMPER, Row, chained_rows, leaves_of, tampered_rows
from testkit.evidence_helpers import ORIGIN, entry

needs_native = pytest.mark.skipif(not accelerator.available(),
                                  reason="evidence.audit._scan is not built (no C compiler, Python or OpenSSL headers)")

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
TRAILER = b"\xff\xff"


def row_message(r: Row) -> bytes:
    """One COPY BINARY data row of (idx, device_seq, leaf_hash, entry, device_id, entry_type), as PostgreSQL
    sends it."""
    idx, leaf, data, device, seq, kind = r
    fields = [idx.to_bytes(8, "big", signed=True), seq.to_bytes(8, "big", signed=True), leaf, data, device.encode(),
              kind.encode()]
    return (6).to_bytes(2, "big") + b"".join(len(f).to_bytes(4, "big") + f for f in fields)


def stream(rows: list[Row]) -> list[bytes]:
    msgs = [row_message(r) for r in rows]
    if msgs:
        msgs[0] = HEADER + msgs[0]  # PostgreSQL sends the header in the first row's message
        return [*msgs, TRAILER]
    return [HEADER + TRAILER]


def feeder(msgs: list[bytes]) -> Callable[[int], tuple[int, memoryview]]:
    """PGconn.get_copy_data's contract: (nbytes, buffer), then -1 once the copy is done."""
    it = iter(msgs)

    def get(async_: int) -> tuple[int, memoryview]:
        m = next(it, None)
        return (-1, memoryview(b"")) if m is None else (len(m), memoryview(m))
    return get


def native(msgs: list[bytes], start: int, end: int, want_media: bool = False) -> ChunkScan | None:
    return accelerator.scan_stream(feeder(msgs), start, end, want_media)


PLAIN = ["cam-1", "cam-2", "dock-7:a", "ü-3"]  # no JSON escapes: the native path reads these itself


@needs_native
@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(PLAIN), min_size=1, max_size=40), st.integers(0, 5), st.booleans())
def test_native_confirms_clean_chunks_like_the_exact_path(devices: list[str], block: int, signed: bool) -> None:
    start = block * 64
    rows = chained_rows(devices, start=start, signed=signed)
    exact = _exact(rows, leaves_of(rows), start, start + len(rows))
    got = native(stream(rows), start, start + len(rows))
    assert exact.findings == []
    assert got is not None and got.path == "native"
    assert (got.levels, got.ends, got.entries) == (exact.levels, exact.ends, exact.entries)


@needs_native
@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), max_size=300))
def test_build_levels_matches_python(leaves: list[bytes]) -> None:
    assert accelerator._scan.build_levels(b"".join(leaves)) == build_levels(leaves)


@needs_native
def test_build_levels_refuses_partial_hashes() -> None:
    with pytest.raises(ValueError, match="multiple of 32"):
        accelerator._scan.build_levels(b"\x00" * 33)


@needs_native
@pytest.mark.parametrize("what", list(TAMPER))
@settings(max_examples=15, deadline=None)
@given(devices=st.lists(st.sampled_from(PLAIN[:2]), min_size=3, max_size=20), at=st.integers(0, 19),
       signed=st.booleans())
def test_native_never_confirms_what_the_exact_path_finds(what: str, devices: list[str], at: int, signed: bool) -> None:
    rows = tampered_rows(devices, what, at, signed)
    exact = _exact(rows, leaves_of(rows), 0, len(rows))
    got = native(stream(rows), 0, len(rows))
    if exact.findings:
        assert got is None
    else:  # e.g. a changed first entry of a device: the parent judges it from the chain ends
        assert got is not None and got.ends == exact.ends


def _swap(rows: list[Row]) -> list[Row]:
    rows[1], rows[2] = rows[2], rows[1]
    return rows


def _nested_fake_prefix(rows: list[Row]) -> list[Row]:
    """Bytes whose first `device_id` key sits inside an object (not the canonical layout): the exact path reads
    the top level with a JSON parser, so the native path must not trust a prefix it did not fully parse."""
    idx, _, data, *columns = rows[3]
    data = data.replace(b'{"calibration_cert_id":null', b'{"calibration_cert_id":{"x":1}', 1)
    rows[3] = (idx, hashlib.sha256(b"\x00" + data).digest(), data, *columns)
    return rows


def _escaped_id(rows: list[Row]) -> list[Row]:
    return chained_rows(["cam-1", 'odd "id" \\ ü', "cam-1", 'odd "id" \\ ü'])


BROKEN_STREAMS: dict[str, Callable[[list[bytes]], list[bytes]]] = {
    "row missing": lambda m: [m[0], *m[2:]],
    "trailer missing": lambda m: m[:-1],
    "bad signature": lambda m: [b"PGCOPZ" + m[0][6:], *m[1:]],
    "row cut short": lambda m: [m[0], m[1][:-3], *m[2:]],
    "NULL column": lambda m: [m[0], m[1][:-4 - len(b"review")] + (-1).to_bytes(4, "big", signed=True), *m[2:]],
    "seven fields": lambda m: [m[0], b"\x00\x07" + m[1][2:] + bytes(4), *m[2:]],
    "five fields": lambda m: [m[0], b"\x00\x05" + m[1][2:-4 - len(b"review")], *m[2:]],
    "row after the trailer": lambda m: [*m, m[1]],
}


@needs_native
@pytest.mark.parametrize("what", list(BROKEN_STREAMS))
def test_native_gives_up_on_broken_streams(what: str) -> None:
    rows = chained_rows(["cam-1", "cam-1", "cam-2", "cam-1"])
    assert native(stream(rows), 0, 4) is not None
    assert native(BROKEN_STREAMS[what](stream(rows)), 0, 4) is None


@needs_native
def test_native_takes_a_header_in_its_own_message() -> None:
    rows = chained_rows(["cam-1", "cam-2", "cam-1"])
    msgs = stream(rows)
    assert native([HEADER, msgs[0][len(HEADER):], *msgs[1:]], 0, 3) is not None


@needs_native
@pytest.mark.parametrize("change", [_swap, _nested_fake_prefix, _escaped_id])
def test_native_leaves_odd_chunks_to_the_python_paths(change: Callable[[list[Row]], list[Row]]) -> None:
    rows = change(chained_rows(["cam-1", "cam-2", "cam-1", "cam-1", "cam-2"]))
    assert native(stream(rows), 0, len(rows)) is None


@needs_native
def test_native_reads_more_rows_than_expected_as_doubt() -> None:
    rows = chained_rows(["cam-1"] * 5)
    assert native(stream(rows), 0, 4) is None


@needs_native
@pytest.mark.parametrize("items", [0, 1, 3])
def test_native_media_hashes_match_python(items: int) -> None:
    rows = []
    prev = None
    for i in range(4):
        data = encode(entry("cam-1", readings={"i": i},
                            media=[MediaRef(role="snapshot", mime="image/jpeg", size=k + 1,
                                            sha256=hashlib.sha256(b"%d-%d" % (i, k)).hexdigest())
                                   for k in range(items)]),
                      origin=ORIGIN, device_seq=i, device_prev_hash=prev)
        prev = hashlib.sha256(b"\x00" + data).digest()
        rows.append((i, prev, data, "cam-1", i, "evidence"))
    got = native(stream(rows), 0, 4, want_media=True)
    assert got is not None
    assert got.media == {h for r in rows for h in media_hashes(r[2])}
    assert len(got.media) == 4 * items


def _can_build() -> bool:
    include = Path(sysconfig.get_paths()["include"])
    return bool(shutil.which("cc") or shutil.which("gcc")) and (include / "Python.h").exists() and any(
        Path(d, "openssl", "evp.h").exists() for d in ("/usr/include", "/usr/local/include"))


@pytest.mark.skipif(not _can_build(), reason="no C compiler, Python headers or OpenSSL headers here")
def test_accelerator_is_built_where_it_can_be() -> None:
    """Where the build tools exist, a missing module means the C code stopped compiling (the optional build
    only warns): fail here instead of silently testing the fallback alone."""
    assert accelerator.available()


@needs_native
@settings(max_examples=200, deadline=None)
@given(cut=st.integers(0, 400), length=st.integers(0, 40),
       junk=st.text(alphabet='",:[]{}0123456789abcdef sha256media origin\\', max_size=40))
def test_native_media_reading_agrees_with_python(cut: int, length: int, junk: str) -> None:
    """Whatever the bytes after the chain prefix, the C reader either finds exactly the media hashes that
    evidence.entry_bytes.media_hashes finds, or gives the chunk to the Python paths."""
    refs = [MediaRef(role="snapshot", mime="image/jpeg", size=k + 1, sha256=hashlib.sha256(b"%d" % k).hexdigest())
            for k in range(2)]
    data = encode(entry("cam-1", media=refs), origin=ORIGIN, device_seq=0, device_prev_hash=None)
    body = data.find(b'"device_seq":0,') + len(b'"device_seq":0,')
    at = body + cut % (len(data) - body)
    data = data[:at] + junk.encode() + data[at + length:]
    got = native(stream([(0, hashlib.sha256(b"\x00" + data).digest(), data, "cam-1", 0, "evidence")]), 0, 1,
                 want_media=True)
    if got is not None:
        assert got.media == set(media_hashes(data))


def decode_stream(msgs: list[bytes]) -> list[Row] | None:
    """A plain reading of a COPY BINARY stream into rows, or None where the C reader must refuse it."""
    if not msgs or not msgs[0].startswith(HEADER[:11]) or len(msgs[0]) < 19:
        return None
    first = msgs[0][19 + int.from_bytes(msgs[0][15:19], "big", signed=True):]
    body = ([first] if first else []) + msgs[1:]
    if not body or body[-1] != TRAILER:
        return None
    rows = []
    for m in body[:-1]:
        if len(m) < 2 or int.from_bytes(m[:2], "big") != 6:
            return None
        at, fields = 2, []
        for _ in range(6):
            n = int.from_bytes(m[at:at + 4], "big", signed=True) if len(m) >= at + 4 else -2
            if n < 0 or len(m) < at + 4 + n:
                return None
            fields.append(m[at + 4:at + 4 + n])
            at += 4 + n
        if at != len(m) or [len(f) for f in fields[:3]] != [8, 8, 32]:
            return None
        try:
            device, kind = fields[4].decode(), fields[5].decode()
        except UnicodeDecodeError:
            return None
        idx, seq = (int.from_bytes(f, "big", signed=True) for f in fields[:2])
        rows.append((idx, fields[2], fields[3], device, seq, kind))
    return rows


@needs_native
@settings(max_examples=300, deadline=None)
@given(devices=st.lists(st.sampled_from(PLAIN[:3]), min_size=1, max_size=8), data=st.data())
def test_native_confirms_a_mangled_stream_only_if_the_exact_path_would(devices: list[str],
                                                                      data: st.DataObject) -> None:
    """Bytes flipped, cut or inserted anywhere in the stream: the C reader must neither crash nor confirm what
    a plain reading of the same stream shows to be broken."""
    msgs = stream(chained_rows(devices))
    for _ in range(data.draw(st.integers(0, 3))):  # none at all: the confirming side of the property runs too
        if not msgs:
            break
        i = data.draw(st.integers(0, len(msgs) - 1))
        m = bytearray(msgs[i])
        at = data.draw(st.integers(0, max(len(m) - 1, 0)))
        how = data.draw(st.sampled_from(["flip", "cut", "insert", "drop"]))
        if how == "flip" and m:
            m[at] ^= data.draw(st.integers(1, 255))
        elif how == "cut":
            del m[at:]
        elif how == "insert":
            m[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        elif how == "drop":
            del msgs[i]
            continue
        msgs[i] = bytes(m)
    got = native(msgs, 0, len(devices)) if msgs else None
    if got is not None:
        rows = decode_stream(msgs)
        assert rows is not None, "confirmed a stream that does not parse"
        exact = _exact(rows, leaves_of(rows), 0, len(devices))
        assert exact.findings == [] and (got.levels, got.ends) == (exact.levels, exact.ends)
