"""Forged bundles, one forgery per row: each must fail naming the item it forged, in verify_bundle and in
`python verify.py`; a bundle re-signed with another key is never plainly VERIFIED."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import evidence.verify
from evidence.bundle import export_bundle
from evidence.log import EvidenceLog, MediaInput
from evidence.signer import NoteSigner, checkpoint_body
from evidence.verify import VerificationError, verify_bundle
from testkit.evidence_helpers import ORIGIN, entry, make_log

pytestmark = pytest.mark.integration

Members = list[tuple[str, bytes]]  # zip members in order; a name may repeat


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, pg_server_url: str) -> Iterator[tuple[Path, EvidenceLog]]:
    """One bundle for every row (entries 0, 3, 21, 22; checkpoints 21 and 35), and the log that signed it."""
    import uuid

    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from gateway.store.migrate import apply_migrations

    name = f"forgeries_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server_url, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    url = make_conninfo(**{**conninfo_to_dict(pg_server_url), "dbname": name})
    apply_migrations(url)
    tmp = tmp_path_factory.mktemp("forgeries")
    with make_log(url, tmp / "data") as log:
        log.append(entry("cam-1"), [MediaInput("snapshot", "image/jpeg", b"\xff\xd8 one")])
        log.append_many([entry(f"cam-{i % 3}") for i in range(20)])
        log.checkpoint()
        log.append(entry("cam-1"), [MediaInput("clip", "video/mp4", b"clip" * 100)])
        log.append_many([entry(f"cam-{i % 3}") for i in range(13)])
        export_bundle(log, [0, 3, 21, 22], tmp / "case.zip", purpose="p", producer="p")
        yield tmp / "case.zip", log
    with psycopg.connect(pg_server_url, autocommit=True) as c:
        c.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _members(path: Path) -> Members:
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i)) for i in z.infolist()]


def _write(members: Members, path: Path) -> Path:
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as z:
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names some rows add on purpose
        for name, data in members:
            z.writestr(name, data)
    return path


def _get(m: Members, name: str) -> bytes:
    return next(data for n, data in m if n == name)


def _put(m: Members, name: str, data: bytes) -> None:
    m[:] = [(n, data if n == name else d) for n, d in m]


def _manifest(m: Members, change: Callable[[dict], None]) -> None:
    doc = json.loads(_get(m, "manifest.json"))
    change(doc)
    _put(m, "manifest.json", json.dumps(doc).encode())


def _rehash(m: Members, *, add: tuple[str, ...] = ()) -> None:
    """The careful forger: the manifest's file hashes made to match the files (and `add` listed too)."""
    def fix(doc: dict) -> None:
        for name in [*doc["files"], *add]:
            doc["files"][name] = hashlib.sha256(_get(m, name)).hexdigest()
    _manifest(m, fix)


def _body(note: bytes) -> str:
    text = note.decode()
    return text[: text.rindex("\n\n") + 1]


INTRUDER = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())


def _resign(m: Members) -> None:
    """Every checkpoint note, in checkpoint.note, checkpoints/ and every proof, signed again by another key
    under the log's name, and that key put in the bundle."""
    for name, data in list(m):
        if name.endswith(".note"):
            _put(m, name, INTRUDER.sign(_body(data)).encode())
        elif name.endswith(".tlog-proof"):
            head, _, note = data.decode().partition("\n\n")
            _put(m, name, (head + "\n\n" + INTRUDER.sign(_body(note.encode()))).encode())
    _put(m, "verifier.vkey", (INTRUDER.vkey + "\n").encode())
    _manifest(m, lambda d: d.update(vkey=INTRUDER.vkey))
    _rehash(m)


def _older_checkpoint(m: Members) -> None:
    old = _get(m, "checkpoints/21.note")
    _put(m, "checkpoint.note", old)
    lines = _body(old).split("\n")
    _manifest(m, lambda d: d.update(checkpoint_size=int(lines[1]), checkpoint_root=lines[2]))
    _rehash(m)


def _renamed_entry(m: Members) -> None:
    m[:] = [("entries/4.json" if n == "entries/3.json" else n, d) for n, d in m]

    def fix(d: dict) -> None:
        d["files"]["entries/4.json"] = d["files"].pop("entries/3.json")
        next(e for e in d["entries"] if e["index"] == 3)["file"] = "entries/4.json"
    _manifest(m, fix)


def _entry_field(key: str, value: object) -> Callable[[Members], None]:
    def forge(m: Members) -> None:
        _manifest(m, lambda d: d["entries"][0].update({key: value}))
        _rehash(m)
    return forge


def _media_size(m: Members) -> None:
    _manifest(m, lambda d: d["entries"][0]["media"][0].update(size=999))
    _rehash(m)


def _unlisted(m: Members) -> None:
    m.append(("notes.txt", b"unverified words"))


def _listed_but_unchecked(m: Members) -> None:
    m.append(("entries/99.json", b'{"forged": true}'))
    _rehash(m, add=("entries/99.json",))


def _duplicate(m: Members) -> None:
    m.append(("entries/0.json", _get(m, "entries/0.json").replace(b"cam-1", b"cam-X")))


def _summary(**fields: object) -> Callable[[Members], None]:
    def forge(m: Members) -> None:
        _manifest(m, lambda d: d.update(fields))
        _rehash(m)
    return forge


FORGERIES: dict[str, tuple[Callable[[Members], None], str]] = {
    "file the manifest does not list": (_unlisted, "notes.txt"),
    "file listed but checked by nothing": (_listed_but_unchecked, "entries/99.json"),
    "duplicate zip member (last copy wins)": (_duplicate, "entries/0.json"),
    "manifest checkpoint_size": (_summary(checkpoint_size=36), "manifest.json"),
    "manifest checkpoint_root": (_summary(checkpoint_root=base64.b64encode(b"\x01" * 32).decode()), "manifest.json"),
    "manifest vkey": (_summary(vkey=INTRUDER.vkey), "manifest.json"),
    "manifest origin": (_summary(origin="evidence.other.example/log9"), "manifest.json"),
    "manifest device_id": (_entry_field("device_id", "cam-7"), "entry 0 (entries/0.json)"),
    "manifest device_seq": (_entry_field("device_seq", 5), "entry 0 (entries/0.json)"),
    "manifest entry_type": (_entry_field("entry_type", "review"), "entry 0 (entries/0.json)"),
    "manifest media size": (_media_size, "entry 0 (entries/0.json)"),
    "entry under another index's file name": (_renamed_entry, "entry 3 (entries/4.json)"),
    "older valid checkpoint as checkpoint.note": (_older_checkpoint, "checkpoint.note"),
    "every note re-signed with another key": (_resign, "verifier.vkey"),
}


@pytest.mark.parametrize("what", list(FORGERIES))
def test_forged_bundle_fails_naming_the_item(what: str, made: tuple[Path, EvidenceLog], tmp_path: Path) -> None:
    bundle, log = made
    forge, item = FORGERIES[what]
    m = _members(bundle)
    forge(m)
    forged = _write(m, tmp_path / "forged.zip")
    with pytest.raises(VerificationError) as caught:
        verify_bundle(forged, log.vkey)
    assert caught.value.item == item, caught.value
    r = subprocess.run([sys.executable, evidence.verify.__file__, str(forged), "--vkey", log.vkey],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stdout.startswith(f"FAIL {item}:"), r.stdout + r.stderr


def test_the_unforged_bundle_passes(made: tuple[Path, EvidenceLog], tmp_path: Path) -> None:
    bundle, log = made
    report = verify_bundle(_write(_members(bundle), tmp_path / "same.zip"), log.vkey)
    assert "entry 22: device cam-0 sequence 7, evidence, 0 media, included in checkpoint 35" in report


def test_a_resigned_bundle_is_not_plainly_verified_on_its_own_key(made: tuple[Path, EvidenceLog],
                                                                   tmp_path: Path) -> None:
    bundle, _ = made
    m = _members(bundle)
    _resign(m)
    d = tmp_path / "u"
    with zipfile.ZipFile(_write(m, tmp_path / "resigned.zip")) as z:
        z.extractall(d)
    r = subprocess.run([sys.executable, "verify.py"], cwd=d, capture_output=True, text=True, timeout=60)
    assert r.returncode == 3, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1].startswith(
        f"VERIFIED against the key inside the bundle only: compare it with the published key {INTRUDER.vkey}")


def test_a_witness_cosignature_on_a_proof_is_no_failure(made: tuple[Path, EvidenceLog], tmp_path: Path) -> None:
    bundle, log = made
    m = _members(bundle)
    witness = NoteSigner("witness.example/w1", Ed25519PrivateKey.generate())
    proof = _get(m, "proofs/0.tlog-proof").decode()
    cosigned = proof + witness.sign(_body(_get(m, "checkpoint.note"))).rsplit("\n\n", 1)[1]
    _put(m, "proofs/0.tlog-proof", cosigned.encode())
    _rehash(m)
    assert any(line.startswith("entry 0:") for line in verify_bundle(_write(m, tmp_path / "w.zip"), log.vkey))


def test_kept_checkpoints(made: tuple[Path, EvidenceLog], tmp_path: Path) -> None:
    """A bundle is held to checkpoints the reader kept: consistent ones pass, a newer or forked one fails naming
    checkpoint.note, and one the bundle carries no proof from says how to get it."""
    bundle, log = made
    cps = {c.size: c.note for c in log.checkpoints()}
    assert any("consistent with the kept checkpoint k21" in line
               for line in verify_bundle(bundle, log.vkey, [("k21", cps[21]), ("k35", cps[35])]))
    forked = log.signer.sign(checkpoint_body(ORIGIN, 21, hashlib.sha256(b"fork").digest()))
    log.append(entry("cam-5"))
    newer = log.checkpoint().note
    for kept, why in [(newer, "older than the kept checkpoint"), (forked, "the log forked")]:
        with pytest.raises(VerificationError, match=why) as caught:
            verify_bundle(bundle, log.vkey, [("k", kept)])
        assert caught.value.item == "checkpoint.note"
    log.append(entry("cam-5"))
    later = log.checkpoint()
    out = tmp_path / "later.zip"
    with pytest.raises(VerificationError, match="export it with --checkpoint k36"):
        verify_bundle(export_bundle(log, [0], out, purpose="p", producer="p").path, log.vkey, [("k36", newer)])
    export_bundle(log, [0], out, purpose="p", producer="p", kept=[newer])
    assert any("consistent with the kept checkpoint k36 (size 36" in line
               for line in verify_bundle(out, log.vkey, [("k36", newer)]))
    assert later.size == 37
