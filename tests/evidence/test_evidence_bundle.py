"""Export bundles: verified by the function, by `python verify.py` inside the unzipped bundle, and by the
CLI; every tampering makes it exit non-zero naming the item."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import evidence.verify
from evidence.audit import native as accelerator
from evidence.bundle import export_bundle
from evidence.entry import encode
from evidence.log import EvidenceLog, MediaInput
from evidence.signer import NoteSigner
from evidence.verify import VerificationError, leaf_hash, verify_bundle
from testkit.evidence_helpers import ORIGIN, entry, make_log

pytestmark = pytest.mark.integration


@pytest.fixture
def log(db_url: str, tmp_path: Path) -> Iterator[EvidenceLog]:
    with make_log(db_url, tmp_path / "data") as lg:
        yield lg


@pytest.fixture
def bundle(log: EvidenceLog, tmp_path: Path) -> Path:
    log.append(entry("cam-1", readings={"LAeq": 71.5}), [MediaInput("snapshot", "image/jpeg", b"\xff\xd8 one")])
    log.append_many([entry(f"cam-{i % 3}") for i in range(20)])
    log.checkpoint()
    log.append(entry("cam-1"), [MediaInput("clip", "video/mp4", b"clip bytes" * 1000),
                                MediaInput("snapshot", "image/jpeg", b"\xff\xd8 one")])
    log.append_many([entry(f"cam-{i % 3}") for i in range(13)])
    out = tmp_path / "case.zip"
    summary = export_bundle(log, [0, 3, 21, 22], out, purpose="case 2026-001 review", producer="officer 042")
    assert (summary.entries, summary.media, summary.checkpoint_size) == (4, 2, 35)
    return out


def _unzip(path: Path, dest: Path) -> Path:
    with zipfile.ZipFile(path) as z:
        z.extractall(dest)
    return dest


def _run(d: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "verify.py", *args], cwd=d, capture_output=True, text=True, timeout=60)


def _rehash_manifest(d: Path) -> None:
    """The careful forger: edits files, then fixes the manifest's file hashes to match."""
    m = json.loads((d / "manifest.json").read_text())
    m["files"] = {name: hashlib.sha256((d / name).read_bytes()).hexdigest() for name in m["files"]}
    (d / "manifest.json").write_text(json.dumps(m))


def _flip(p: Path, at: int = 5) -> None:
    raw = bytearray(p.read_bytes())
    raw[at] ^= 0x01
    p.write_bytes(bytes(raw))


def test_bundle_verifies(bundle: Path, log: EvidenceLog, tmp_path: Path) -> None:
    report = verify_bundle(bundle, log.vkey)
    assert any("4 entries" in line for line in report)
    assert any("older checkpoint 21 is consistent with 35" in line for line in report)
    d = _unzip(bundle, tmp_path / "unzipped")
    assert (d / "verify.py").read_bytes() == Path(evidence.verify.__file__).read_bytes()
    # On the bundled key alone the verdict says so, with its own exit code: that key proves nothing by itself.
    r = _run(d)
    assert r.returncode == 3, r.stdout + r.stderr
    assert f"VERIFIED against the key inside the bundle only: compare it with the published key {log.vkey}" in r.stdout
    r = _run(d, "--vkey", log.vkey)
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "VERIFIED", r.stdout
    for idx, device, seq in [(0, "cam-1", 0), (3, "cam-2", 0), (21, "cam-1", 8), (22, "cam-0", 7)]:
        assert f"entry {idx}: device {device} sequence {seq}, evidence" in r.stdout
    m = json.loads((d / "manifest.json").read_text())
    assert (m["purpose"], m["producer"]) == ("case 2026-001 review", "officer 042")
    assert m["method"] and m["created_at"] and m["entries"][0]["media"][0]["sha256"]


def test_verify_py_uses_only_stdlib_and_cryptography() -> None:
    src = Path(evidence.verify.__file__).read_text()
    imports = {line.split()[1].split(".")[0] for line in src.splitlines()
               if line.startswith(("import ", "from ")) or line.lstrip().startswith(("import ", "from "))}
    assert imports <= set(sys.stdlib_module_names) | {"cryptography", "__future__"}, imports


@pytest.mark.parametrize("forger", [False, True])
def test_flipped_media_byte(bundle: Path, tmp_path: Path, forger: bool) -> None:
    d = _unzip(bundle, tmp_path / "u")
    media = sorted((d / "media").iterdir())[0]
    _flip(media)
    if forger:
        _rehash_manifest(d)
    r = _run(d)
    assert r.returncode == 1
    assert f"FAIL media/{media.name}" in r.stdout


@pytest.mark.parametrize("forger", [False, True])
def test_edited_proof(bundle: Path, tmp_path: Path, forger: bool) -> None:
    d = _unzip(bundle, tmp_path / "u")
    p = d / "proofs" / "3.tlog-proof"
    lines = p.read_text().split("\n")
    h = bytearray(base64.b64decode(lines[3]))
    h[0] ^= 0x80
    lines[3] = base64.b64encode(bytes(h)).decode()
    p.write_text("\n".join(lines))
    if forger:
        _rehash_manifest(d)
    r = _run(d)
    assert r.returncode == 1
    assert "FAIL proofs/3.tlog-proof" in r.stdout
    if forger:
        assert "entry 3" in r.stdout and "not in the checkpoint" in r.stdout


def test_edited_entry(bundle: Path, tmp_path: Path) -> None:
    d = _unzip(bundle, tmp_path / "u")
    e = d / "entries" / "21.json"
    e.write_bytes(e.read_bytes().replace(b'"clip"', b'"clap"'))
    m = json.loads((d / "manifest.json").read_text())
    m["entries"][2]["leaf_hash"] = leaf_hash(e.read_bytes()).hex()
    m["entries"][2]["sha256"] = hashlib.sha256(e.read_bytes()).hexdigest()
    for media in m["entries"][2]["media"]:
        media["role"] = media["role"].replace("clip", "clap")
    (d / "manifest.json").write_text(json.dumps(m))
    _rehash_manifest(d)
    r = _run(d)
    assert r.returncode == 1 and "FAIL proofs/21.tlog-proof: entry 21" in r.stdout


def test_checkpoint_signed_by_another_key(bundle: Path, tmp_path: Path, log: EvidenceLog) -> None:
    d = _unzip(bundle, tmp_path / "u")
    cp = (d / "checkpoint.note").read_text()
    body = cp[: cp.index("\n\n") + 1]
    (d / "checkpoint.note").write_text(NoteSigner(ORIGIN, Ed25519PrivateKey.generate()).sign(body))
    _rehash_manifest(d)
    r = _run(d)
    assert r.returncode == 1 and "FAIL checkpoint.note" in r.stdout
    # A forger who also swaps the bundled key is caught by pinning the published key.
    other = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    (d / "checkpoint.note").write_text(other.sign(body))
    (d / "verifier.vkey").write_text(other.vkey + "\n")
    _rehash_manifest(d)
    r = _run(d, "--vkey", log.vkey)
    assert r.returncode == 1 and "FAIL verifier.vkey" in r.stdout


def test_broken_chain_in_bundle(log: EvidenceLog, db_url: str, tmp_path: Path) -> None:
    first = log.append(entry("cam-9"))
    # A second cam-9 entry whose previous hash is not the first's (written around the API).
    data = encode(entry("cam-9"), origin=ORIGIN, device_seq=1, device_prev_hash=b"\x42" * 32)
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute("INSERT INTO evidence_entries (idx, leaf_hash, entry, device_id, device_seq, entry_type) "
                  "VALUES (1, %s, %s, 'cam-9', 1, 'evidence')", (leaf_hash(data), data))
    export_bundle(log, [first.index, 1], tmp_path / "b.zip", purpose="p", producer="p")
    with pytest.raises(VerificationError, match="chain broken"):
        verify_bundle(tmp_path / "b.zip")


def test_cli_keys_export_verify_audit(db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evidence.config import EvidenceConfig
    from gateway.cli import main

    data_dir = tmp_path / "cli"
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(json.dumps({"data_dir": str(data_dir), "database": {"url": db_url}}))
    assert main(["-c", str(cfg), "keys", "show"]) == 0
    vkey = capsys.readouterr().out.strip()
    assert vkey.startswith("evidence.enforcegw.example/log1+")
    assert (data_dir / "keys" / "evidence.key").stat().st_mode & 0o777 == 0o600
    with EvidenceLog.open(db_url, EvidenceConfig(), data_dir) as glog:  # what the gateway will do
        assert glog.vkey == vkey
        glog.append(entry("cam-1"), [MediaInput("snapshot", "image/jpeg", b"jpeg")])
        glog.append(entry("cam-1"))
    assert main(["-c", str(cfg), "evidence", "checkpoint"]) == 0
    assert capsys.readouterr().out.split("\n")[1] == "2"
    out = tmp_path / "case.zip"
    assert main(["-c", str(cfg), "evidence", "export", "--entries", "0,1", "-o", str(out)]) == 0
    assert main(["verify", str(out), "--vkey", vkey]) == 0
    assert "VERIFIED" in capsys.readouterr().out
    assert main(["-c", str(cfg), "evidence", "audit", "--no-progress"]) == 0
    shown = capsys.readouterr().out
    assert "no findings" in shown
    assert ("1 by the native path (C accelerator)" if accelerator.available() else "(pure Python)") in shown
    assert main(["-c", str(cfg), "evidence", "audit", "--no-progress", "--pure-python"]) == 0
    assert "1 by the fast path (pure Python)" in capsys.readouterr().out
    (data_dir / "media").chmod(0o755)
    media = next(p for p in (data_dir / "media").rglob("*") if p.is_file())
    media.chmod(0o644)
    _flip(media, 0)
    assert main(["-c", str(cfg), "evidence", "audit", "--no-progress"]) == 1
    assert "does not match" in capsys.readouterr().out
    # Counts always complete; the list on screen capped; every finding in the JSON report.
    report = tmp_path / "audit.json"
    assert main(["-c", str(cfg), "evidence", "audit", "--no-progress", "--show", "0", "--report", str(report)]) == 1
    shown = capsys.readouterr().out
    assert "1 findings: media 1" in shown and "does not match" not in shown
    doc = json.loads(report.read_text())
    assert doc["ok"] is False and [f["kind"] for f in doc["findings"]] == ["media"]
    assert doc["engine"] == ("native" if accelerator.available() else "python") and sum(doc["chunks"].values()) == 1
    assert "does not match" in doc["findings"][0]["detail"]
    _flip(out, 200)
    assert main(["-c", str(cfg), "verify", str(out)]) == 1
    assert main(["-c", str(cfg), "evidence", "export", "--alert", "A-1", "-o", str(tmp_path / "x.zip")]) == 2
    assert "no alert with clue code or id 'A-1'" in capsys.readouterr().err
    assert main(["-c", str(cfg), "evidence", "export", "--entries", "7", "-o", str(tmp_path / "y.zip")]) == 1
