"""The console's verifier (api/web/js/verify.js) under node: the RFC 6962 and signed-note known answers, the same
verdict as evidence/verify.py on every note, key and checkpoint in a table of good and bad ones, and entries of a
real evidence log (as GET /api/evidence/entries/{i} gives them) verifying, each kind of tampering named."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api import evidence_read
from evidence.entry import Entry
from evidence.signer import NoteSigner, checkpoint_body
from evidence.verify import (
    leaf_hash,
    parse_checkpoint,
    parse_vkey,
    verify_inclusion,
    verify_note,
)
from testkit.paths import shared_path
from testkit.read_api import ORIGIN, read_client

HERE = Path(__file__).resolve().parent
ED25519_L = 2**252 + 27742317777372353535851937790883648493  # the group order: S must be below it


def run_node(test_file: str, env: dict[str, str]) -> int:
    """Run one node test file; fail with its TAP output unless every test passed. Returns how many passed."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the browser verifier's unit tests run under node (apt-get install nodejs)")
    r = subprocess.run([node, "--test", "--test-reporter=tap", str(HERE / test_file)], env={**os.environ, **env},
                       capture_output=True, text=True, timeout=300)
    found = re.search(r"^# pass (\d+)$", r.stdout, re.M)
    passed = int(found.group(1)) if found else 0
    failures = "\n".join(line for line in r.stdout.splitlines() if line.lstrip().startswith(("not ok", "error:",
                                                                                              "expected", "actual")))
    assert r.returncode == 0 and passed > 0, f"{test_file}: {failures}\n{r.stdout[-6000:]}\n{r.stderr[-2000:]}"
    return passed


def test_known_answers() -> None:
    env = {"ENFORCEGW_RFC6962_VECTORS": str(shared_path("testdata", "rfc6962_vectors.json")),
           "ENFORCEGW_SIGNED_NOTE_VECTORS": str(shared_path("testdata", "signed_note_vectors.json"))}
    assert run_node("verify_vectors.test.mjs", env) >= 20


# ---------------------------------------------------------------- the same verdict as evidence/verify.py


def _signer(name: str, seed: int) -> NoteSigner:
    return NoteSigner(name, Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


def _verdict(fn: Callable[..., object], *args: object) -> str:
    try:
        fn(*args)
    except Exception as exc:  # any refusal counts: the JS side must refuse too
        return f"fail: {type(exc).__name__}: {exc}"
    return "ok"


def _sig_line(signer: NoteSigner, text: str) -> str:
    return signer.sign(text)[len(text) + 1:]


def _line(name: str, blob: bytes) -> str:
    return f"\u2014 {name} {base64.b64encode(blob).decode()}\n"


def note_cases() -> list[tuple[str, str, str]]:
    log, witness, impostor = _signer(ORIGIN, 1), _signer("witness.example/w1", 2), _signer(ORIGIN, 3)
    zh = _signer("证据.南海.example/log1", 4)
    body = checkpoint_body(ORIGIN, 5, hashlib.sha256(b"root").digest())
    note, line = log.sign(body), _sig_line(log, body)
    blob = base64.b64decode(line.split(" ")[2])
    s = int.from_bytes(blob[36:], "little")
    high_s = blob[:36] + (s + ED25519_L).to_bytes(32, "little")  # the same signature with S not reduced
    unknown = [_line(f"w{i}.example", bytes(4 + 64)) for i in range(99)]
    zh_body = checkpoint_body("证据.南海.example/log1", 7, hashlib.sha256(b"zh").digest())
    return [
        ("signed by the log", note, log.vkey),
        ("cosigned by a witness", note + _sig_line(witness, body), log.vkey),
        ("the witness line first", body + "\n" + _sig_line(witness, body) + line, log.vkey),
        ("only a witness signed", witness.sign(body), log.vkey),
        ("an impostor key under the log's name", impostor.sign(body), log.vkey),
        ("size altered", note.replace("\n5\n", "\n6\n", 1), log.vkey),
        ("origin altered", note.replace(ORIGIN, ORIGIN + "x", 1), log.vkey),
        ("a second line by the log that fails", note + _line(ORIGIN, blob[:-1] + bytes([blob[-1] ^ 1])), log.vkey),
        ("the signature's S not reduced", body + "\n" + _line(ORIGIN, high_s), log.vkey),
        ("a 63-byte signature", body + "\n" + _line(ORIGIN, blob[:-1]), log.vkey),
        ("a 4-byte signature blob", body + "\n" + _line(ORIGIN, blob[:4]), log.vkey),
        ("no final newline", note[:-1], log.vkey),
        ("a carriage return", note.replace("\n\n", "\r\n\n"), log.vkey),
        ("a tab in the text", note.replace("\n5\n", "\n5\t\n"), log.vkey),
        ("no blank line", body + line, log.vkey),
        ("a hyphen for the em dash", note.replace("\u2014", "-"), log.vkey),
        ("four fields", note[:-1] + " more\n", log.vkey),
        ("signature not base64", note.replace(line.split(" ")[2][:8], "!!!!!!!!"), log.vkey),
        ("a plus in the line's key name", body + "\n" + _line("a+b", blob), log.vkey),
        ("100 signature lines", body + "\n" + "".join(unknown) + line, log.vkey),
        ("101 signature lines", body + "\n" + "".join(unknown) + _line("w.example", bytes(68)) + line, log.vkey),
        ("a blank line after the signatures", note + "\n", log.vkey),
        ("a line separator in a signature line", body + "\n" + line.replace(" ", "\u2028", 1), log.vkey),
        ("empty", "", log.vkey),
        ("a Chinese log name", zh.sign(zh_body), zh.vkey),
        ("a Chinese log name, text altered", zh.sign(zh_body).replace("\n7\n", "\n8\n"), zh.vkey),
        ("checked against a malformed key", note, log.vkey[:-2]),
    ]


def vkey_cases() -> list[tuple[str, str]]:
    log = _signer(ORIGIN, 1)
    name, kid, b64 = log.vkey.split("+", 2)
    raw = base64.b64decode(b64)
    plus = next(s for s in (_signer("p.example/log", i) for i in range(1, 200)) if "+" in s.vkey.split("+", 2)[2])

    def vk(n: str, k: bytes, r: bytes) -> str:
        return f"{n}+{k.hex()}+{base64.b64encode(r).decode()}"

    def kid_of(n: str, r: bytes) -> bytes:
        return hashlib.sha256(n.encode() + b"\n" + r).digest()[:4]

    return [
        ("the log's key", log.vkey),
        ("padded with whitespace", f"  {log.vkey}\n"),
        ("an upper-case key id", f"{name}+{kid.upper()}+{b64}"),
        ("a wrong key id", f"{name}+{'0' * 8}+{b64}"),
        ("a key id of 3 bytes", f"{name}+{kid[:6]}+{b64}"),
        ("a key id that is not hex", f"{name}+{kid[:7]}g+{b64}"),
        ("type 0x02", vk(name, kid_of(name, b"\x02" + raw[1:]), b"\x02" + raw[1:])),
        ("a 31-byte key", vk(name, kid_of(name, raw[:-1]), raw[:-1])),
        ("no key id", f"{name}+{b64}"),
        ("a space in the name", vk("a b", kid_of("a b", raw), raw)),
        ("an empty name", vk("", kid_of("", raw), raw)),
        ("base64 without padding", log.vkey.rstrip("=")),
        ("base64 holding a plus", plus.vkey),
        ("a Chinese name", _signer("证据.example/log", 5).vkey),
    ]


def body_cases() -> list[tuple[str, str]]:
    root = base64.b64encode(hashlib.sha256(b"r").digest()).decode()
    return [
        ("plain", f"o.example/log\n12\n{root}\n"),
        ("with extension lines", f"o.example/log\n12\n{root}\next one\next two\n"),
        ("size 0", f"o.example/log\n0\n{root}\n"),
        ("size with a leading zero", f"o.example/log\n012\n{root}\n"),
        ("negative size", f"o.example/log\n-1\n{root}\n"),
        ("size with a plus", f"o.example/log\n+1\n{root}\n"),
        ("size with a space", f"o.example/log\n 1\n{root}\n"),
        ("Arabic-Indic digits", f"o.example/log\n\u0661\u0662\n{root}\n"),
        ("full-width digits", f"o.example/log\n\uff11\n{root}\n"),
        ("a 31-byte root", f"o.example/log\n1\n{base64.b64encode(bytes(31)).decode()}\n"),
        ("a 33-byte root", f"o.example/log\n1\n{base64.b64encode(bytes(33)).decode()}\n"),
        ("root without padding", f"o.example/log\n1\n{root.rstrip('=')}\n"),
        ("an empty line", f"o.example/log\n1\n{root}\n\next\n"),
        ("no final newline", f"o.example/log\n1\n{root}"),
        ("two lines", "o.example/log\n1\n"),
        ("a Chinese origin", f"证据.example/log\n3\n{root}\n"),
    ]


def agreement_fixture() -> dict:
    return {
        "notes": [{"name": n, "note": note, "vkey": vkey, "python": _verdict(verify_note, note, [vkey])}
                  for n, note, vkey in note_cases()],
        "vkeys": [{"name": n, "vkey": v, "python": _verdict(parse_vkey, v)} for n, v in vkey_cases()],
        "bodies": [{"name": n, "text": t, "python": _verdict(parse_checkpoint, t)} for n, t in body_cases()],
    }


def test_same_verdict_as_the_python_verifier(tmp_path: Path) -> None:
    fixture = agreement_fixture()
    assert {c["python"] == "ok" for table in fixture.values() for c in table} == {True, False}  # both kinds
    (tmp_path / "agreement.json").write_text(json.dumps(fixture, ensure_ascii=False), encoding="utf-8")
    assert run_node("verify_agreement.test.mjs", {"ENFORCEGW_AGREEMENT": str(tmp_path / "agreement.json")}) == 3


# ---------------------------------------------------------------- entries of a real log, as the API gives them


@pytest.mark.integration
async def test_real_entries_verify_and_tampering_is_named(db_url: str, tmp_path: Path) -> None:
    async with read_client(db_url, tmp_path / "data", evidence_read.register) as (client, ctx):
        log = ctx.evidence
        assert log is not None
        indexes = [log.append(Entry(entry_type="evidence", device_id=f"噪声-{i % 2}", payload={
            "clue_code": f"E-{i}", "note": "夜间施工 LAeq 66 dB(A)"})).index for i in range(6)]
        log.checkpoint()
        entries = [await (await client.get(f"/api/evidence/entries/{i}")).json() for i in indexes]
        pending_index = log.append(Entry(entry_type="evidence", device_id="噪声-0")).index
        pending = await (await client.get(f"/api/evidence/entries/{pending_index}")).json()
        latest = log.latest_checkpoint()
        assert latest is not None
        foreign = log.signer.sign(checkpoint_body("other.example/log", latest.size, latest.root))
        vkey = log.vkey
    for e in entries:  # what the page is given verifies in Python first
        p = e["proof"]
        data = base64.b64decode(e["entry"])
        assert e["leaf_hash"] == leaf_hash(data).hex() and p["checkpoint"] == latest.note
        verify_note(p["checkpoint"], [vkey])
        verify_inclusion(e["index"], p["size"], leaf_hash(data), [base64.b64decode(h) for h in p["path"]],
                         base64.b64decode(p["root"]))
    assert pending["proof"] is None and pending["pending"]
    fixture = {"vkey": vkey, "entries": entries, "pending": pending, "checkpoint": latest.note,
               "foreign_origin_checkpoint": foreign, "other_key_same_name": _signer(ORIGIN, 9).vkey,
               "other_log_key": _signer("other.example/log", 9).vkey}
    (tmp_path / "log.json").write_text(json.dumps(fixture, ensure_ascii=False), encoding="utf-8")
    assert run_node("verify_log.test.mjs", {"ENFORCEGW_LOG_FIXTURE": str(tmp_path / "log.json")}) >= 3
