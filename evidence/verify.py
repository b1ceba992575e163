"""Offline verifier for enforcegw evidence: RFC 6962 proofs, C2SP signed notes, export bundles.

This file travels inside every export bundle and must run there on its own: it imports only the Python
standard library and `cryptography` (for Ed25519), never our packages. The log's own code imports its
verifiers from here, so the verifier an auditor runs is the one our tests exercise.

Usage inside an unzipped bundle:  python verify.py [BUNDLE_DIR_OR_ZIP] [--vkey KEY_OR_FILE] [--checkpoint FILE]
Exit 0 when every item verifies against the key given with --vkey; 3 when it verifies against the key inside
the bundle only (anyone who rewrites a bundle can replace that key too, so compare it with the published one);
1 naming the first item that fails and why; 2 on usage errors.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import re
import sys
import zipfile
import zlib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

VERIFIER_VERSION = "enforcegw-verify/1"
BUNDLE_FORMAT = "enforcegw-evidence-bundle/1"
TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
ED25519_TYPE = 0x01
MAX_SIGNATURES = 100  # c2sp.org/signed-note asks verifiers to accept at least 16
_CONTROL = re.compile("[\x00-\x1f]")  # no control characters in key names
_NOTE_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")  # a note may hold newlines, no other control characters


class VerificationError(Exception):
    """A check failed. `item` names what failed (a file, an entry index, a proof), the message says why."""

    def __init__(self, item: str, reason: str) -> None:
        super().__init__(f"{item}: {reason}")
        self.item = item
        self.reason = reason


# ---------------------------------------------------------------- RFC 6962 hashing and proof checks


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _hash32(h: object, what: str) -> bytes:
    # Every hash is exactly 32 bytes: this rejects empty, truncated and garbage-padded elements.
    if not isinstance(h, bytes | bytearray) or len(h) != 32:
        raise VerificationError(what, "not a 32-byte hash")
    return bytes(h)


def inclusion_proof_length(index: int, size: int) -> int:
    inner = (index ^ (size - 1)).bit_length()
    return inner + bin(index >> inner).count("1")


def verify_inclusion(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> None:
    """RFC 9162 2.1.3.2 plus the transparency-dev guards; raises VerificationError on any failure."""
    what = f"inclusion proof ({index}, {size})"
    leaf, root = _hash32(leaf, what + " leaf hash"), _hash32(root, what + " root")
    path = [_hash32(p, what + " element") for p in path]
    if size <= 0 or index < 0 or index >= size:
        raise VerificationError(what, "leaf index not inside the tree")
    if len(path) != inclusion_proof_length(index, size):
        raise VerificationError(what, f"wrong proof length {len(path)}, want {inclusion_proof_length(index, size)}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise VerificationError(what, "proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or not hmac.compare_digest(r, root):
        raise VerificationError(what, "computed root does not match")


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]) -> None:
    """RFC 9162 2.1.4.2 plus guards. (0, n) fails: a proof from the empty tree is meaningless."""
    what = f"consistency proof ({size1}, {size2})"
    root1, root2 = _hash32(root1, what + " first root"), _hash32(root2, what + " second root")
    proof = [_hash32(p, what + " element") for p in proof]
    if size1 <= 0 or size2 <= 0:
        raise VerificationError(what, "sizes must be positive")
    if size1 > size2:
        raise VerificationError(what, "first size larger than second")
    if size1 == size2:
        if proof:
            raise VerificationError(what, "proof must be empty for equal sizes")
        if not hmac.compare_digest(root1, root2):
            raise VerificationError(what, "roots differ for equal sizes")
        return
    if not proof:
        raise VerificationError(what, "empty proof")
    # Expected length, as transparency-dev/merkle computes it: the inclusion-path shape of leaf size1-1,
    # minus the levels below the largest complete subtree ending at size1, plus that subtree's hash
    # unless it is the whole first tree (then root1 is the seed and is not sent).
    shift = (size1 & -size1).bit_length() - 1
    inner = ((size1 - 1) ^ (size2 - 1)).bit_length()
    border = bin((size1 - 1) >> inner).count("1")
    want = inner - shift + border + (0 if size1 == 1 << shift else 1)
    if len(proof) != want:
        raise VerificationError(what, f"wrong proof length {len(proof)}, want {want}")
    path = [root1, *proof] if size1 == 1 << shift else proof
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError(what, "proof too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or not hmac.compare_digest(fr, root1) or not hmac.compare_digest(sr, root2):
        raise VerificationError(what, "computed roots do not match")


# ---------------------------------------------------------------- C2SP signed notes and checkpoints


def key_id(name: str, type_byte: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([type_byte]) + public_key).digest()[:4]


def _check_key_name(name: str) -> None:
    if not name or " " in name or "+" in name or _CONTROL.search(name):
        raise VerificationError("key name", f"invalid key name {name!r}")


@lru_cache(maxsize=64)  # an audit checks thousands of notes against the same key or two
def parse_vkey(vkey: str) -> tuple[str, bytes, bytes]:
    """`<name>+<hex key id>+base64(0x01 || pubkey)` -> (name, key id, 32-byte Ed25519 public key)."""
    try:
        name, hex_id, b64 = vkey.strip().split("+", 2)  # base64 may itself contain "+"
        raw = base64.b64decode(b64, validate=True)
        kid = bytes.fromhex(hex_id)
    except (ValueError, binascii.Error):
        raise VerificationError("verifier key", "not <name>+<keyid>+<base64>") from None
    _check_key_name(name)
    if len(kid) != 4 or len(raw) != 33 or raw[0] != ED25519_TYPE:
        raise VerificationError("verifier key", "not an Ed25519 (type 0x01) signed-note key")
    if key_id(name, ED25519_TYPE, raw[1:]) != kid:
        raise VerificationError("verifier key", "key id does not match name and public key")
    return name, kid, raw[1:]


def parse_note(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """Split a signed note into its text (ending in \\n) and (key name, key id, signature) triples."""
    if not note.endswith("\n") or _NOTE_CONTROL.search(note):
        raise VerificationError("signed note", "malformed (must end in newline, no control characters)")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise VerificationError("signed note", "no blank line before the signatures")
    text, sig_lines = note[: cut + 1], note[cut + 2 :].splitlines()
    if not sig_lines or len(sig_lines) > MAX_SIGNATURES:
        raise VerificationError("signed note", "no signature lines or too many")
    sigs = []
    for line in sig_lines:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != "\u2014":
            raise VerificationError("signed note", f"malformed signature line {line!r}")
        _check_key_name(parts[1])
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except binascii.Error:
            raise VerificationError("signed note", "signature is not base64") from None
        if len(blob) < 5:
            raise VerificationError("signed note", "signature too short")
        sigs.append((parts[1], blob[:4], blob[4:]))
    return text, sigs


def split_notes(text: str) -> list[str]:
    """The signed notes of a text holding one or several, one after another (blank lines between them allowed):
    a note ends with its last signature line, the first line after them that is not one starts the next."""
    notes: list[str] = []
    lines: list[str] = []
    in_signatures = False
    for line in text.splitlines(keepends=True):
        if in_signatures and not line.startswith("\u2014 "):
            notes.append("".join(lines))
            lines, in_signatures = [], False
        if not lines and not line.strip():
            continue
        if lines and line == "\n":
            in_signatures = True
        lines.append(line)
    if lines:
        notes.append("".join(lines))
    return notes


@lru_cache(maxsize=64)
def _public_key(raw: bytes) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(raw)


def verify_note(note: str, vkeys: list[str]) -> str:
    """Return the note text if a known key verifies it. Unknown keys are ignored (room for witnesses and
    rotation); a known key whose signature fails rejects the whole note."""
    from cryptography.exceptions import InvalidSignature

    known = {(n, k): pub for n, k, pub in map(parse_vkey, vkeys)}
    text, sigs = parse_note(note)
    verified = 0
    for name, kid, sig in sigs:
        pub = known.get((name, kid))
        if pub is None:
            continue
        try:
            _public_key(pub).verify(sig, text.encode())
        except InvalidSignature:
            raise VerificationError("signed note", f"signature by {name} does not verify") from None
        verified += 1
    if not verified:
        raise VerificationError("signed note", "no signature by a known key")
    return text


def parse_checkpoint(text: str) -> tuple[str, int, bytes, list[str]]:
    """C2SP tlog-checkpoint body -> (origin, tree size, root hash, extension lines)."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
        raise VerificationError("checkpoint", "needs at least 3 non-empty lines, each ending in newline")
    origin, size_s, root_b64 = lines[0], lines[1], lines[2]
    if not size_s.isascii() or not size_s.isdigit() or (size_s != "0" and size_s.startswith("0")):
        raise VerificationError("checkpoint", f"bad tree size {size_s!r}")
    try:
        root = base64.b64decode(root_b64, validate=True)
    except binascii.Error:
        raise VerificationError("checkpoint", "root hash is not base64") from None
    return origin, int(size_s), _hash32(root, "checkpoint root"), lines[3:-1]


def parse_tlog_proof(text: str) -> tuple[int, list[bytes], str]:
    """c2sp.org/tlog-proof@v1 -> (leaf index, inclusion path, signed checkpoint note)."""
    head, sep, note = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or lines[0] != TLOG_PROOF_HEADER:
        raise VerificationError("tlog-proof", "missing header or blank line")
    rest = lines[1:]
    if rest and rest[0].startswith("extra "):
        rest = rest[1:]  # unauthenticated extra data: ignored
    if not rest or not rest[0].startswith("index ") or not rest[0][6:].isdigit():
        raise VerificationError("tlog-proof", "missing index line")
    try:
        path = [base64.b64decode(h, validate=True) for h in rest[1:]]
    except binascii.Error:
        raise VerificationError("tlog-proof", "path element is not base64") from None
    return int(rest[0][6:]), path, note


# ---------------------------------------------------------------- review decisions, readably

REVIEWS_HEADING = "Review decisions"
# The fields every review entry's payload has; whatever else a decision carries (a note, a reason code and its
# text, a lease, an override's justification) is listed under it as it stands, so new kinds of decision need no
# new verifier.
_REVIEW_FIXED = ("clue_code", "alert_id", "decision", "status", "time", "reviewer", "alert_evidence")


def review_of(index: int, entry: dict) -> dict | None:
    """What a review entry says, for people (None for any other entry type). Derived from the entry bytes alone,
    so the verifier can hold the bundle's readable lists (manifest `reviews`, README.txt) to the signed entries."""
    if entry.get("entry_type") != "review":
        return None
    payload = entry.get("payload") or {}
    who = payload.get("reviewer") or {}
    return {"index": index, "clue_code": payload.get("clue_code"), "decision": payload.get("decision"),
            "time": payload.get("time"), "reviewer": who.get("name"), "role": who.get("role"),
            "token_id": who.get("token_id"), "status": payload.get("status"),
            "details": {k: v for k, v in sorted(payload.items()) if k not in _REVIEW_FIXED and v is not None},
            "refers_to": [ref.get("index") for ref in payload.get("alert_evidence") or []]}


def _readable(value: object) -> str:
    # One line per field: free text with line breaks or other control characters is shown JSON-quoted.
    if isinstance(value, str) and not _CONTROL.search(value):
        return value
    return json.dumps(value, ensure_ascii=False)


def review_listing(reviews: Sequence[dict]) -> str:
    """The review decisions as README.txt lists them ("" when there are none)."""
    if not reviews:
        return ""
    lines = [f"{REVIEWS_HEADING} ({len(reviews)}), in log order, as the review entries in entries/ record them:", ""]
    for r in reviews:
        refs = ", ".join(str(i) for i in r["refers_to"]) or "none"
        lines.append(f"  {_readable(r['time'])}  {_readable(r['decision'])} of alert {_readable(r['clue_code'])}"
                     f" by {_readable(r['reviewer'])} (role {_readable(r['role'])}, token {r['token_id']})")
        lines.append(f"      status after: {_readable(r['status'])}; entry entries/{r['index']}.json;"
                     f" on the alert's entries {refs}")
        lines += [f"      {k}: {_readable(v)}" for k, v in r["details"].items()]
    return "\n".join(lines) + "\n"


def _check_reviews(manifest: dict, readme: str, reviews: list[dict], leaves: dict[int, str],
                   entries: dict[int, dict]) -> None:
    """The manifest's `reviews` and README.txt's listing say what the review entries say, and each review names
    the alert's entries it rests on by the leaf hashes the bundle holds for them."""
    listed = manifest.get("reviews", [])
    if not isinstance(listed, list):
        raise VerificationError("manifest.json", "reviews is not a list")
    for k in range(max(len(listed), len(reviews))):
        got, want = (listed[k] if k < len(listed) else None), (reviews[k] if k < len(reviews) else None)
        if got != want:
            which = f"entry {want['index']}" if want else f"a review the entries do not hold ({_readable(got)})"
            raise VerificationError("manifest.json", f"reviews: {which} is listed otherwise than its entry says")
    cut = readme.find(f"\n{REVIEWS_HEADING} (")
    if (readme[cut + 1:] if cut >= 0 else "") != review_listing(reviews):
        raise VerificationError("README.txt", "its review decisions differ from the review entries")
    for r in reviews:
        for ref in (entries[r["index"]].get("payload") or {}).get("alert_evidence") or []:
            held = leaves.get(ref.get("index"))
            if held is not None and ref.get("leaf_hash") != held:
                raise VerificationError(f"entry {r['index']} (entries/{r['index']}.json)",
                                        f"refers to entry {ref.get('index')} by leaf hash {ref.get('leaf_hash')},"
                                        f" the bundled entry's is {held}")


# ---------------------------------------------------------------- export bundles

CHECKPOINT_FILE, VKEY_FILE = "checkpoint.note", "verifier.vkey"
EXIT_VERIFIED, EXIT_FAILED, EXIT_USAGE, EXIT_BUNDLED_KEY_ONLY = 0, 1, 2, 3
_SKIP_DIRS = {"__pycache__"}  # what running verify.py in an unzipped bundle may leave there


class _Bundle:
    """Files of a bundle, from a .zip or an unzipped directory."""

    def __init__(self, path: Path) -> None:
        self.zip = zipfile.ZipFile(path) if path.is_file() else None
        self.root = path
        if self.zip is not None:  # a name twice: readers disagree on which copy counts (zipfile takes the last)
            seen: set[str] = set()
            for name in self.zip.namelist():
                if name in seen:
                    raise VerificationError(name, "appears more than once in the zip")
                seen.add(name)

    def names(self) -> list[str]:
        """Every file in the bundle (directory entries of a zip are not files)."""
        if self.zip is not None:
            return [n for n in self.zip.namelist() if not n.endswith("/")]
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*")
                      if p.is_file() and not _SKIP_DIRS & set(p.relative_to(self.root).parts))

    def read(self, name: str) -> bytes:
        if name.startswith("/") or ".." in name.split("/"):
            raise VerificationError(name, "path escapes the bundle")
        try:
            return self.zip.read(name) if self.zip else (self.root / name).read_bytes()
        except (KeyError, FileNotFoundError, IsADirectoryError):
            raise VerificationError(name, "missing from the bundle") from None
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise VerificationError(name, f"corrupt in the zip ({exc})") from None


def _signed(note: str, vkey: str, item: str) -> tuple[str, str, int, bytes]:
    """(signed body, origin, size, root) of a checkpoint note verified under `vkey`; the failure names `item`."""
    try:
        body = verify_note(note, [vkey])
        origin, size, root, _ = parse_checkpoint(body)
    except VerificationError as exc:
        raise VerificationError(item, exc.reason) from None
    return body, origin, size, root


def _same(item: str, what: str, claimed: object, signed: object) -> None:
    if claimed != signed:
        raise VerificationError(item, f"{what} {claimed!r} differs from the signed data ({signed!r})")


def verify_bundle(path: str | Path, vkey: str | None = None, kept: Sequence[tuple[str, str]] = ()) -> list[str]:
    """Re-hash and re-verify a bundle; return report lines, raise VerificationError at the first failure.
    `vkey`: the log's key as published (None: the bundled key, which proves only that the bundle agrees with
    itself). `kept`: (where, note) checkpoints the reader saw before; the bundle's must be consistent with each."""
    b = _Bundle(Path(path))
    try:
        manifest = json.loads(b.read("manifest.json"))
    except ValueError:
        raise VerificationError("manifest.json", "not valid JSON") from None
    if manifest.get("format") != BUNDLE_FORMAT:
        raise VerificationError("manifest.json", f"unknown format {manifest.get('format')!r}")
    report = [f"bundle format {BUNDLE_FORMAT}, verifier {VERIFIER_VERSION}"]
    files: dict[str, str] = manifest["files"]
    for name in b.names():
        if name != "manifest.json" and name not in files:
            raise VerificationError(name, "in the bundle but not listed in manifest.json")
    for name, want in sorted(files.items()):
        if hashlib.sha256(b.read(name)).hexdigest() != want:
            raise VerificationError(name, "sha256 differs from the manifest")
    report.append(f"{len(files)} files match their manifest sha256, and the bundle holds no other file")

    vkey_file, cp_file = VKEY_FILE, CHECKPOINT_FILE
    _same("manifest.json", "vkey_file", manifest.get("vkey_file"), VKEY_FILE)
    _same("manifest.json", "checkpoint", manifest.get("checkpoint"), CHECKPOINT_FILE)
    bundled_vkey = b.read(vkey_file).decode().strip()
    if vkey is not None and vkey.strip() != bundled_vkey:
        raise VerificationError(vkey_file, "differs from the verifier key given on the command line")
    if manifest.get("vkey") != bundled_vkey:
        raise VerificationError("manifest.json", f"vkey differs from {vkey_file}")
    trusted = vkey.strip() if vkey is not None else bundled_vkey
    origin = parse_vkey(trusted)[0]
    note = b.read(cp_file).decode()
    body, cp_origin, size, root = _signed(note, trusted, cp_file)
    if cp_origin != origin:
        raise VerificationError(cp_file, f"origin {cp_origin!r} is not the key's log {origin!r}")
    _same("manifest.json", "origin", manifest.get("origin"), origin)
    _same("manifest.json", "checkpoint_size", manifest.get("checkpoint_size"), size)
    _same("manifest.json", "checkpoint_root", manifest.get("checkpoint_root"), base64.b64encode(root).decode())
    # Every checkpoint in the bundle that the log signed is at most as new as the bundle's own: a newer one
    # means an older valid note was put in as the bundle's checkpoint (a rollback).
    others = [(item["note"], b.read(item["note"]).decode()) for item in manifest.get("consistency", [])]
    others += [(item["proof"], b.read(item["proof"]).decode()) for item in manifest["entries"]]
    for name, other in others:
        try:
            if name.endswith(".tlog-proof"):
                other = parse_tlog_proof(other)[2]
            newer = parse_checkpoint(verify_note(other, [trusted]))[1]
        except VerificationError:
            continue  # reported with its item below
        if newer > size:
            raise VerificationError(cp_file, f"size {size} is older than the checkpoint in {name} (size {newer}): "
                                             "an older checkpoint was put in place of the newest")
    report.append(f"checkpoint {origin} size {size} signed by {trusted}"
                  + (" (the key given)" if vkey is not None else " (the key inside the bundle)"))

    verified = {cp_file, vkey_file, "verify.py", "README.txt"}
    consistent: dict[int, bytes] = {size: root}
    for item in manifest.get("consistency", []):
        _, _, old_size, old_root = _signed(b.read(item["note"]).decode(), trusted, item["note"])
        try:
            proof = [base64.b64decode(p, validate=True) for p in item["proof"]]
            verify_consistency(old_size, size, old_root, root, proof)
        except (VerificationError, binascii.Error) as exc:
            raise VerificationError(item["note"], getattr(exc, "reason", "bad proof encoding")) from None
        verified.add(item["note"])
        consistent[old_size] = old_root
        report.append(f"older checkpoint {old_size} is consistent with {size}")

    chains: dict[str, dict[int, dict]] = {}
    seen_indexes: set[int] = set()
    leaves: dict[int, str] = {}
    reviews: list[dict] = []
    review_entries: dict[int, dict] = {}
    for item in manifest["entries"]:
        idx = item["index"]
        label = f"entry {idx} ({item['file']})"
        if not isinstance(idx, int) or idx in seen_indexes:
            raise VerificationError(label, "index repeated or not an integer")
        seen_indexes.add(idx)
        if item["file"] != f"entries/{idx}.json" or item["proof"] != f"proofs/{idx}.tlog-proof":
            raise VerificationError(label, f"stored under another index's file name (want entries/{idx}.json, "
                                           f"proofs/{idx}.tlog-proof)")
        data = b.read(item["file"])
        lh = leaf_hash(data)
        _same(label, "manifest sha256", item.get("sha256"), hashlib.sha256(data).hexdigest())
        _same(label, "manifest leaf_hash", item.get("leaf_hash"), lh.hex())
        try:
            entry = json.loads(data)
        except ValueError:
            raise VerificationError(label, "entry bytes are not JSON") from None
        if entry.get("origin") != origin:
            raise VerificationError(label, f"origin {entry.get('origin')!r} is not {origin!r}")
        for key in ("device_id", "device_seq", "entry_type"):
            _same(label, f"manifest {key}", item.get(key), entry.get(key))
        media = [{"sha256": m["sha256"], "file": f"media/{m['sha256']}", "size": m["size"], "mime": m["mime"],
                  "role": m["role"]} for m in entry.get("media", [])]
        _same(label, "manifest media", item.get("media"), media)
        for m in media:
            content = b.read(m["file"])
            if hashlib.sha256(content).hexdigest() != m["sha256"] or len(content) != m["size"]:
                raise VerificationError(m["file"], f"does not match {label}")
            verified.add(m["file"])
        try:
            proof_idx, path_, proof_note = parse_tlog_proof(b.read(item["proof"]).decode())
        except VerificationError as exc:
            raise VerificationError(item["proof"], exc.reason) from None
        if proof_idx != idx:
            raise VerificationError(item["proof"], f"index {proof_idx} is not the entry's {idx}")
        # By the signed body, not byte for byte: a witness may have added its cosignature line since.
        if _signed(proof_note, trusted, item["proof"])[0] != body:
            raise VerificationError(item["proof"], "its checkpoint differs from the bundle's")
        try:
            verify_inclusion(idx, size, lh, path_, root)
        except VerificationError as exc:
            raise VerificationError(item["proof"], f"{label} is not in the checkpoint: {exc.reason}") from None
        verified.update((item["file"], item["proof"]))
        seqs = chains.setdefault(entry["device_id"], {})
        if entry["device_seq"] in seqs:
            raise VerificationError(label, f"device {entry['device_id']} sequence {entry['device_seq']} repeated")
        seqs[entry["device_seq"]] = {"leaf": lh.hex(), "prev": entry.get("device_prev_hash"), "label": label}
        report.append(f"entry {idx}: device {entry['device_id']} sequence {entry['device_seq']}, "
                      f"{entry.get('entry_type')}, {len(media)} media, included in checkpoint {size}")
        leaves[idx] = lh.hex()
        review = review_of(idx, entry)
        if review is not None:
            reviews.append(review)
            review_entries[idx] = entry
    report.append(f"{len(manifest['entries'])} entries, their media and inclusion proofs verify")
    _check_reviews(manifest, b.read("README.txt").decode(), reviews, leaves, review_entries)
    for r in reviews:
        report.append(f"review entry {r['index']}: {_readable(r['decision'])} of alert {_readable(r['clue_code'])} "
                      f"by {_readable(r['reviewer'])} ({_readable(r['role'])}) at {_readable(r['time'])}"
                      + "".join(f", {k} {_readable(v)}" for k, v in r["details"].items()))
    if reviews:
        report.append(f"{len(reviews)} review decisions: manifest.json and README.txt list them as the entries say")

    for name in sorted(files):
        if name not in verified:
            raise VerificationError(name, "listed in the manifest but checked by nothing")

    linked = 0
    for device, seqs in sorted(chains.items()):
        for seq, e in sorted(seqs.items()):
            before = seqs.get(seq - 1)
            if before is not None:
                if e["prev"] != before["leaf"]:
                    raise VerificationError(e["label"], f"device {device} chain broken: previous hash differs")
                linked += 1
            elif seq == 0 and e["prev"] is not None:
                raise VerificationError(e["label"], f"device {device} chain: first entry has a previous hash")
    report.append(f"{len(chains)} device chains, {linked} links between bundled entries verify")

    for where, kept_note in kept:
        _, k_origin, k_size, k_root = _signed(kept_note, trusted, f"kept checkpoint {where}")
        what = f"kept checkpoint {where} (size {k_size}, root {base64.b64encode(k_root).decode()})"
        if k_origin != origin:
            raise VerificationError(what, f"signed for origin {k_origin!r}, this bundle's log is {origin!r}")
        if k_size > size:
            raise VerificationError(cp_file, f"size {size} is older than the {what}: ask for a bundle "
                                             "exported after it")
        if k_size not in consistent:
            raise VerificationError(cp_file, f"the bundle holds no consistency proof from the {what} to size "
                                             f"{size}: export it with --checkpoint {where}")
        if consistent[k_size] != k_root:
            raise VerificationError(cp_file, f"not consistent with the {what}: the log forked")
        report.append(f"consistent with the {what}")
    return report


def _key_text(value: str) -> str:
    """--vkey takes the key itself or a file holding it."""
    p = Path(value)
    return p.read_text(encoding="utf-8").strip() if p.is_file() else value.strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Verify an enforcegw evidence bundle offline.")
    ap.add_argument("bundle", nargs="?", default=Path(__file__).resolve().parent, type=Path,
                    help="Bundle .zip or unzipped directory (default: the directory of this script).")
    ap.add_argument("--vkey", metavar="KEY_OR_FILE",
                    help="The log's verifier key as the authority publishes it (or a file holding it). Without it "
                         "the bundle is checked against the key inside it, which anyone can replace: exit 3.")
    ap.add_argument("--checkpoint", action="append", default=[], type=Path, metavar="FILE",
                    help="A checkpoint kept from before (one signed note or several); the bundle's checkpoint "
                         "must be consistent with each. Repeatable.")
    args = ap.parse_args(argv)
    if not args.bundle.exists():
        print(f"FAIL {args.bundle}: no such file or directory")
        return EXIT_USAGE
    try:
        vkey = _key_text(args.vkey) if args.vkey is not None else None
        kept = []
        for f in args.checkpoint:
            notes = split_notes(f.read_text(encoding="utf-8"))
            kept += [(str(f) if len(notes) == 1 else f"{f}#{k}", n) for k, n in enumerate(notes, 1)]
    except (OSError, UnicodeDecodeError) as exc:
        print(f"FAIL arguments: cannot read ({exc})")
        return EXIT_USAGE
    try:
        for line in verify_bundle(args.bundle, vkey, kept):
            print("ok  ", line)
    except VerificationError as exc:
        print(f"FAIL {exc.item}: {exc.reason}")
        return EXIT_FAILED
    except (KeyError, TypeError, ValueError, AttributeError, OSError, zipfile.BadZipFile) as exc:
        print(f"FAIL bundle: malformed ({type(exc).__name__}: {exc})")
        return EXIT_FAILED
    if vkey is None:
        bundled = _Bundle(args.bundle).read(VKEY_FILE).decode().strip()
        print(f"VERIFIED against the key inside the bundle only: compare it with the published key {bundled} "
              "(or run again with --vkey KEY)")
        return EXIT_BUNDLED_KEY_ONLY
    print("VERIFIED")
    return EXIT_VERIFIED


if __name__ == "__main__":
    sys.exit(main())
