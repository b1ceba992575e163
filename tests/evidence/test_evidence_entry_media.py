"""Canonical entries, the content-addressed media store and the signing key."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from evidence.config import EvidenceConfig
from evidence.entry import Entry, MediaRef, Position, decode, encode
from evidence.entry_bytes import chain_fields, media_hashes
from evidence.media import FileMediaStore, MediaStore
from evidence.signer import NoteSigner, checkpoint_body, load_or_create_key
from evidence.verify import parse_checkpoint, parse_vkey, verify_note


def _entry(**kw: object) -> Entry:
    return Entry(
        entry_type="evidence", device_id=kw.pop("device_id", "cam-7"),
        capture_time=datetime(2026, 5, 1, 22, 30, tzinfo=timezone(timedelta(hours=8))), time_source="gnss",
        position=Position(lat=23.02, lon=113.12, datum="CGCS2000"), pose={"yaw": 12.5, "pitch": -30.0},
        readings={"LAeq": 72.4}, calibration_cert_id="JJG-188-2026-001",
        media=[MediaRef(role="snapshot", mime="image/jpeg", size=3, sha256=hashlib.sha256(b"jpg").hexdigest())],
        refs=[1, 2], **kw,
    )


def test_encoding_is_rfc8785_with_every_s2_field() -> None:
    data = encode(_entry(), origin="o.example/log", device_seq=5, device_prev_hash=b"\x01" * 32)
    doc = decode(data)
    assert rfc8785.dumps(doc) == data  # canonical: re-encoding the decoded document gives the same bytes
    for key in ["schema_version", "origin", "entry_type", "device_id", "device_seq", "device_prev_hash",
                "capture_time", "time_source", "gateway_received_at", "position", "pose", "readings", "media",
                "calibration_cert_id", "device_sig", "refs"]:
        assert key in doc
    assert doc["capture_time"] == "2026-05-01T14:30:00.000000Z"  # normalised to UTC
    assert doc["position"]["datum"] == "CGCS2000"
    assert doc["device_prev_hash"] == "01" * 32


def test_chain_fields_fast_path_matches_json() -> None:
    for device, prev in [("cam-7", None), ('we"ird\\dev\u00e9', b"\xab" * 32), ("x", b"\x00" * 32)]:
        data = encode(_entry(device_id=device), origin="o", device_seq=42, device_prev_hash=prev,
                      received_at=datetime.now(UTC))
        doc = json.loads(data)
        assert chain_fields(data) == (doc["device_id"], 42, prev)
    # Bytes not in our canonical layout fall back to a full parse.
    odd = json.dumps({"device_seq": 3, "device_id": "d", "device_prev_hash": None}).encode()
    assert chain_fields(odd) == ("d", 3, None)
    with pytest.raises(ValueError):
        chain_fields(b'{"x":1}')


_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)


@settings(max_examples=150, deadline=None)
@given(device=_TEXT.filter(bool), kind=st.from_regex(r"[a-z][a-z0-9_]{0,39}", fullmatch=True),
       sig=st.none() | st.tuples(_TEXT, _TEXT, _TEXT), prev=st.none() | st.binary(min_size=32, max_size=32),
       seq=st.integers(0, 2**53 - 1))
def test_row_fields_fast_path_matches_json(device: str, kind: str, sig: tuple[str, str, str] | None,
                                           prev: bytes | None, seq: int) -> None:
    """Every column an entry row copies (device, sequence, link, type) read from the canonical prefix is what a
    JSON parser reads, whatever the device id and signature hold."""
    from evidence.entry import DeviceSig
    from evidence.entry_bytes import row_fields

    e = Entry(entry_type=kind, device_id=device[:200],
              device_sig=DeviceSig(alg=sig[0], key_id=sig[1], sig=sig[2]) if sig else None)
    data = encode(e, origin="o", device_seq=seq, device_prev_hash=prev)
    doc = json.loads(data)
    assert row_fields(data) == (doc["device_id"], seq, prev, kind)
    # Bytes not in our canonical layout fall back to a full parse; a missing or non-string type is refused.
    doc.pop("calibration_cert_id")
    assert row_fields(json.dumps(doc).encode()) == (doc["device_id"], seq, prev, kind)
    for bad in [{**doc, "entry_type": 7}, {k: v for k, v in doc.items() if k != "entry_type"}]:
        with pytest.raises(ValueError, match="entry type"):
            row_fields(json.dumps(bad).encode())


def test_keys_before_device_seq_are_scalars() -> None:
    # The audit's fast path relies on it: only scalars may sort before "device_seq".
    data = encode(Entry(entry_type="notice", device_id="d"), origin="o", device_seq=0, device_prev_hash=None)
    keys = list(json.loads(data))
    assert keys == sorted(keys)
    for k in keys[: keys.index("device_seq")]:
        assert k in {"calibration_cert_id", "capture_time", "device_id", "device_prev_hash"}


def test_entry_validation() -> None:
    with pytest.raises(ValidationError):
        Entry(entry_type="evidence", device_id="d", capture_time=datetime(2026, 1, 1))  # naive time
    with pytest.raises(ValidationError):
        Entry(entry_type="evidence", device_id="d", unknown_field=1)
    with pytest.raises(ValidationError):
        MediaRef(role="r", mime="m", size=1, sha256="ABC")
    with pytest.raises(ValueError):
        encode(Entry(entry_type="e", device_id="d", readings={"x": float("nan")}), origin="o", device_seq=0,
               device_prev_hash=None)


def test_media_store_write_once_and_audit(tmp_path: Path) -> None:
    store = FileMediaStore(tmp_path / "media")
    assert isinstance(store, MediaStore)
    a = store.put(b"original bytes")
    assert a.sha256 == hashlib.sha256(b"original bytes").hexdigest() and a.size == 14
    path = store.path(a.sha256)
    mtime = path.stat().st_mtime_ns
    assert store.put(b"original bytes") == a  # no-op
    assert path.stat().st_mtime_ns == mtime
    src = tmp_path / "clip.mp4"
    src.write_bytes(os.urandom(3 << 20))
    b = store.put_file(src)
    assert store.open(b.sha256).read() == src.read_bytes()
    assert sorted(store) == sorted([a.sha256, b.sha256])
    assert store.audit(a.sha256) is None
    os.chmod(path, 0o644)
    raw = bytearray(path.read_bytes())
    raw[3] ^= 0x01
    path.write_bytes(bytes(raw))
    finding = store.audit(a.sha256)
    assert finding is not None and "does not match" in finding.problem
    assert store.audit("0" * 64).problem == "missing"


def test_key_generated_once_mode_0600(tmp_path: Path) -> None:
    p = tmp_path / "keys" / "evidence.key"
    k1 = load_or_create_key(p)
    assert p.stat().st_mode & 0o777 == 0o600
    k2 = load_or_create_key(p)
    assert k1.private_bytes_raw() == k2.private_bytes_raw()
    os.chmod(p, 0o644)
    with pytest.raises(PermissionError):
        load_or_create_key(p)


def test_signer_vkey_and_checkpoint_note() -> None:
    signer = NoteSigner("evidence.city.example/log1", Ed25519PrivateKey.generate())
    name, kid, pub = parse_vkey(signer.vkey)
    assert (name, kid, pub) == (signer.name, signer.key_id, signer.public_key)
    note = signer.sign(checkpoint_body(signer.name, 7, b"\x07" * 32))
    assert parse_checkpoint(verify_note(note, [signer.vkey])) == (signer.name, 7, b"\x07" * 32, [])
    with pytest.raises(ValueError):
        signer.sign("no newline")


def test_config_forbids_unknown_and_documents_fields() -> None:
    with pytest.raises(ValidationError):
        EvidenceConfig(checkpoint_every=3)
    for name, field in EvidenceConfig.model_fields.items():
        assert field.description, name


def test_media_hashes_fast_path_is_exact() -> None:
    from evidence.entry import DeviceSig

    tricky = Entry(
        entry_type="evidence", device_id='d"\\x',
        device_sig=DeviceSig(alg="ed}25519", key_id="k{", sig='s"'),
        media=[MediaRef(role='a"],"origin":"', mime="m", size=1, sha256="a" * 64),
               MediaRef(role='b","sha256":"' + "c" * 64, mime="m", size=1, sha256="b" * 64)],
        payload={"sha256": "d" * 64, "media": [{"sha256": "e" * 64}]},
    )
    data = encode(tricky, origin="o", device_seq=3, device_prev_hash=b"\x02" * 32)
    assert media_hashes(data) == ["a" * 64, "b" * 64]
    assert chain_fields(data) == ('d"\\x', 3, b"\x02" * 32)
    assert media_hashes(encode(Entry(entry_type="e", device_id="d"), origin="o", device_seq=0,
                               device_prev_hash=None)) == []
    assert media_hashes(json.dumps({"media": [{"sha256": "f" * 64}]}).encode()) == ["f" * 64]  # fallback
