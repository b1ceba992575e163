"""Audit chunk rows as the evidence log stores them, clean or with one row tampered with, for the tests that hold
the native and Python scan paths against each other."""

from __future__ import annotations

import hashlib

from evidence.entry import DeviceSig, encode
from testkit.evidence_helpers import ORIGIN, entry

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
