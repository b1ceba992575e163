"""The audit's chunk scanner without a database: the fast path confirms exactly the chunks the exact path
finds clean, and both rebuild the same subtrees and chain ends."""

from __future__ import annotations

import hashlib

import pytest
from evidence_helpers import ORIGIN, entry, ref_mth
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.audit.chunk import chain_finding
from evidence.audit.scan import _exact, _fast
from evidence.entry import DeviceSig, encode

Row = tuple[int, bytes, bytes, str, int, str]  # idx, leaf_hash, entry, device_id, device_seq, entry_type


ENTRY_TYPES = ["evidence", "review", "device_registry"]
SIGNATURE = DeviceSig(alg="ed25519", key_id="k-1", sig="c2ln")


def chained_rows(devices: list[str], start: int = 0, signed: bool = False) -> list[Row]:
    """Rows as the log stores them: canonical entries with unbroken per-device chains, of varying types (and
    with a device signature when `signed`)."""
    heads: dict[str, tuple[int, bytes]] = {}
    rows = []
    for i, dev in enumerate(devices):
        seq, prev = (heads[dev][0] + 1, heads[dev][1]) if dev in heads else (0, None)
        kind = ENTRY_TYPES[i % len(ENTRY_TYPES)]
        e = entry(dev, readings={"i": i}, entry_type=kind, device_sig=SIGNATURE if signed else None)
        data = encode(e, origin=ORIGIN, device_seq=seq, device_prev_hash=prev)
        leaf = hashlib.sha256(b"\x00" + data).digest()
        rows.append((start + i, leaf, data, dev, seq, kind))
        heads[dev] = (seq, leaf)
    return rows


def leaves_of(rows: list[Row]) -> list[bytes]:
    return [hashlib.sha256(b"\x00" + r[2]).digest() for r in rows]


DEVICES = ["cam-1", "cam-2", 'odd "id" \\ ü', "cam-1"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(DEVICES), min_size=1, max_size=40), st.booleans())
def test_fast_path_confirms_clean_chunks_like_the_exact_path(devices: list[str], signed: bool) -> None:
    rows = chained_rows(devices, signed=signed)
    leaves = leaves_of(rows)
    fast = _fast(rows, leaves, 0, len(rows))
    exact = _exact(rows, leaves, 0, len(rows))
    assert fast is not None, "a clean chunk must not need the slow path"
    assert exact.findings == []
    assert (fast.levels, fast.ends, fast.entries) == (exact.levels, exact.ends, exact.entries)
    if len(rows) & (len(rows) - 1) == 0:  # a complete chunk: its top level is the RFC 6962 root
        assert fast.levels[-1] == ref_mth([r[2] for r in rows])


def _edit_prev_hash(r: Row) -> Row:
    """A self-consistent edit (the stored leaf matches the new bytes) of the chain link in the bytes."""
    key = b'"device_prev_hash":"'
    at = r[2].find(key)
    if at < 0:  # a first entry: null link
        return r
    at += len(key)
    data = r[2][:at] + (b"0" if r[2][at:at + 1] != b"0" else b"1") + r[2][at + 1:]
    return (r[0], hashlib.sha256(b"\x00" + data).digest(), data, *r[3:])


def _edit_type_bytes(r: Row) -> Row:
    """The entry type changed in the bytes (leaf recomputed), the column left as it was."""
    key = b'"entry_type":"'
    data = r[2].replace(key + r[5].encode() + b'"', key + b'notice"', 1)
    return (r[0], hashlib.sha256(b"\x00" + data).digest(), data, *r[3:])


def _nested_chain_decoy(r: Row) -> Row:
    """A superuser's forgery: the correct chain fields copied into an object ahead of the real ones, which are
    then broken (leaf recomputed). A JSON reader sees the broken top-level link; a reader that trusted the first
    `device_id` key it finds would see the decoy."""
    key = b',"device_id":'
    at = r[2].find(key)
    end = r[2].find(b'"device_seq":', at)
    end = r[2].find(b",", end) + 1
    if b'"device_prev_hash":null' in r[2][at:end]:
        return r
    decoy = b'{"a":0' + r[2][at:end] + b'"z":0}'
    data = r[2].replace(b'"calibration_cert_id":null', b'"calibration_cert_id":' + decoy, 1)
    real = data.find(b'"device_prev_hash":"', data.find(b"}", len(decoy))) + len(b'"device_prev_hash":"')
    data = data[:real] + (b"0" if data[real:real + 1] != b"0" else b"1") + data[real + 1:]
    return (r[0], hashlib.sha256(b"\x00" + data).digest(), data, *r[3:])


TAMPER = {
    "device column": lambda r: (*r[:3], "cam-9", *r[4:]),
    "seq column": lambda r: (*r[:4], r[4] + 1, r[5]),
    "entry_type column": lambda r: (*r[:5], "notice"),
    "entry_type column, prefix of the bytes": lambda r: (*r[:5], r[5][:-1]),
    "entry type in the bytes": _edit_type_bytes,
    "stored leaf": lambda r: (r[0], b"\x00" * 32, *r[2:]),
    "prev hash in the bytes": _edit_prev_hash,
    "decoy chain fields in a nested object": _nested_chain_decoy,
}


def tampered_rows(devices: list[str], what: str, at: int, signed: bool = False) -> list[Row]:
    """Chained rows with one row changed by TAMPER[what] (`at` wraps around)."""
    rows = chained_rows(devices, signed=signed)
    at %= len(rows)
    rows[at] = TAMPER[what](rows[at])
    return rows


@pytest.mark.parametrize("what", list(TAMPER))
@settings(max_examples=15, deadline=None)
@given(devices=st.lists(st.sampled_from(DEVICES[:2]), min_size=3, max_size=20), at=st.integers(0, 19),
       signed=st.booleans())
def test_fast_path_never_confirms_what_the_exact_path_finds(what: str, devices: list[str], at: int,
                                                          signed: bool) -> None:
    rows = tampered_rows(devices, what, at, signed)
    leaves = leaves_of(rows)
    exact = _exact(rows, leaves, 0, len(rows))
    fast = _fast(rows, leaves, 0, len(rows))
    if exact.findings:
        assert fast is None
    else:  # e.g. a changed first entry of a device: that is for the parent to judge, from the chain ends
        assert fast is not None and fast.ends == exact.ends


@pytest.mark.parametrize(("what", "column"), [("device column", "device_id"), ("seq column", "device_seq"),
                                              ("entry_type column", "entry_type"),
                                              ("entry_type column, prefix of the bytes", "entry_type")])
@pytest.mark.parametrize("at", [0, 3])
def test_exact_path_names_a_column_that_differs_from_the_bytes(what: str, column: str, at: int) -> None:
    """Every column copied from the entry bytes is compared with them, and the finding names the column."""
    rows = tampered_rows(["cam-1", "cam-2", "cam-1", "cam-1"], what, at)
    exact = _exact(rows, leaves_of(rows), 0, len(rows))
    assert [(kind, item) for kind, item, _ in exact.findings] == [("entry", f"entry {at}")]
    assert f"{column} column" in exact.findings[0][2]
    assert _fast(rows, leaves_of(rows), 0, len(rows)) is None


def test_exact_path_places_leaves_around_a_deleted_row() -> None:
    rows = chained_rows(["a", "b", "a", "b"], start=8)
    del rows[1]
    leaves = leaves_of(rows)
    scan = _exact(rows, leaves, 8, 12)
    assert scan.findings[0][:2] == ("entry", "entry 9")
    assert len(scan.levels[0]) == 4 * 32 and scan.levels[0][32:64] == b"\x00" * 32
    assert _fast(rows, leaves, 8, 12) is None


@pytest.mark.parametrize(("seq", "prev", "last", "problem"), [
    (0, None, None, None),
    (1, None, None, "sequence 1 where 0 was expected"),
    (0, b"h", None, "first entry has a previous hash"),
    (5, b"h", (4, b"h"), None),
    (6, b"h", (4, b"h"), "sequence 6 where 5 was expected"),
    (5, b"x", (4, b"h"), "previous-entry hash does not match entry 4"),
])
def test_chain_finding(seq: int, prev: bytes | None, last: tuple[int, bytes] | None, problem: str | None) -> None:
    found = chain_finding("d", seq, prev, last)
    assert (found is None) if problem is None else (problem in found)
