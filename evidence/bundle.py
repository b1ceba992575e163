"""Export bundles: a zip an auditor, court or party verifies offline with `python verify.py`.

Layout:
  manifest.json            method, time, producer, purpose, origin, every entry/media/file hash, the review
                           decisions (`reviews`: who decided what on which alert, when, why)
  README.txt               how to verify, then the review decisions listed for people
  verifier.vkey            the log's signed-note verifier key
  checkpoint.note          the newest signed checkpoint; every proof is against it
  checkpoints/<size>.note  the checkpoint that first covered each entry, plus a consistency proof to the newest
  entries/<index>.json     the entry bytes exactly as hashed into the log
  proofs/<index>.tlog-proof  c2sp.org/tlog-proof@v1 receipt per entry
  media/<sha256>           the originals the entries reference
  verify.py                evidence/verify.py, byte for byte (standard library + cryptography)
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from evidence import verify as verify_mod
from evidence.entry import decode
from evidence.log import EvidenceLog

DEFAULT_METHOD = (
    "Entries exported from the enforcegw evidence log (RFC 6962 Merkle tree, SHA-256) with their originals; "
    "each entry carries an inclusion proof against the newest Ed25519-signed C2SP checkpoint. "
    "Verify with: python verify.py"
)
README = """Evidence bundle. To verify offline (Python 3.11+ and the `cryptography` package):

    python verify.py --vkey 'KEY'        # in this directory, after unzipping; KEY as the authority publishes it
    python verify.py --vkey KEY --checkpoint kept.note   # also hold it to a checkpoint you kept from before

verify.py re-hashes every file, entry, leaf and root, checks the checkpoint signature, the consistency of
older checkpoints and the per-device hash chains, refuses any file the manifest does not list, and exits 0
(VERIFIED), or 1 naming the first item that fails. Without --vkey it can only check the bundle against the key
inside it, which whoever rewrote a bundle would have replaced too: it then says so and exits 3.
Keep checkpoint.note: a later bundle or audit held to it (--checkpoint) shows whether the log was rolled back.
The decisions people took on the alert (claim, release, confirm, dismiss, legal review, override, ...) are
entries of type review, signed into the log like the evidence they rest on. When the bundle holds any, they are
listed below, and verify.py checks that this list and manifest.json say what those entries say.
"""


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    entries: int
    media: int
    checkpoint_size: int
    reviews: int = 0  # of the entries, how many are review decisions


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_bundle(log: EvidenceLog, indexes: Iterable[int] | Callable[[], Iterable[int]], out: str | Path, *,
                  purpose: str, producer: str, method: str = DEFAULT_METHOD,
                  kept: Sequence[str] = ()) -> ExportSummary:
    """Write FILE.zip for the given entry indexes (or a callable producing them, e.g. an alert's entries).
    `kept`: checkpoint notes the receiver kept from before; the bundle then carries a consistency proof from
    each to its own checkpoint (`verify.py --checkpoint`)."""
    wanted = sorted(set(indexes() if callable(indexes) else indexes))
    if not wanted:
        raise ValueError("nothing to export: no entry indexes")
    cp = log.latest_checkpoint()
    if cp is None or wanted[-1] >= cp.size:
        cp = log.checkpoint()  # make sure the newest entries are covered by a signed checkpoint
    if wanted[0] < 0 or wanted[-1] >= cp.size:
        raise LookupError(f"entry index out of range (log size {cp.size})")
    stored = {c.size: c for c in log.checkpoints()}
    sizes = sorted(stored)
    kept_sizes = {_kept_size(note, log, stored, cp.size) for note in kept}
    out = Path(out)
    files: dict[str, str] = {}
    items, receipts, reviews = [], {}, []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:

        def put(name: str, data: bytes) -> None:
            zf.writestr(name, data)
            files[name] = _sha(data)

        put("verify.py", Path(verify_mod.__file__).read_bytes())
        put("verifier.vkey", (log.vkey + "\n").encode())
        put("checkpoint.note", cp.note.encode())
        media_done: set[str] = set()
        for idx in wanted:
            data = log.entry(idx)
            proof = log.prove(idx, cp.size)
            entry = decode(data)
            put(f"entries/{idx}.json", data)
            put(f"proofs/{idx}.tlog-proof", proof.tlog_proof().encode())
            media = []
            for m in entry.get("media", []):
                sha = m["sha256"]
                if sha not in media_done:
                    _put_media(log, zf, sha, files)
                    media_done.add(sha)
                media.append({"sha256": sha, "file": f"media/{sha}", "size": m["size"], "mime": m["mime"],
                              "role": m["role"]})
            items.append({"index": idx, "file": f"entries/{idx}.json", "sha256": _sha(data),
                          "leaf_hash": proof.leaf_hash.hex(), "proof": f"proofs/{idx}.tlog-proof",
                          "device_id": entry["device_id"], "device_seq": entry["device_seq"],
                          "entry_type": entry["entry_type"], "media": media})
            first = sizes[bisect.bisect_right(sizes, idx)]  # the first checkpoint that covered this entry
            receipts.setdefault(first, []).append(idx)
            review = verify_mod.review_of(idx, entry)
            if review is not None:
                reviews.append(review)
        listing = verify_mod.review_listing(reviews)
        put("README.txt", (README + ("\n" + listing if listing else "")).encode())
        consistency = []
        for size in sorted(set(receipts) | kept_sizes):
            if size == cp.size:
                continue
            put(f"checkpoints/{size}.note", stored[size].note.encode())
            consistency.append({"note": f"checkpoints/{size}.note", "first_covers": receipts.get(size, []),
                                "proof": [base64.b64encode(h).decode() for h in log.consistency(size, cp.size)]})
        manifest = {
            "format": verify_mod.BUNDLE_FORMAT,
            "verifier": verify_mod.VERIFIER_VERSION,
            "origin": log.config.origin,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "producer": producer,
            "purpose": purpose,
            "method": method,
            "hash": "SHA-256",
            "vkey_file": "verifier.vkey",
            "vkey": log.vkey,
            "checkpoint": "checkpoint.note",
            "checkpoint_size": cp.size,
            "checkpoint_root": base64.b64encode(cp.root).decode(),
            "entries": items,
            "reviews": reviews,
            "consistency": consistency,
            "files": files,
        }
        zf.writestr("manifest.json", json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False))
    return ExportSummary(out, len(items), len(media_done), cp.size, len(reviews))


def _kept_size(note: str, log: EvidenceLog, stored: dict, newest: int) -> int:
    """The size of a checkpoint the receiver kept, once it is known to be one of ours that the log still holds."""
    try:
        origin, size, root, _ = verify_mod.parse_checkpoint(verify_mod.verify_note(note, [log.vkey]))
    except verify_mod.VerificationError as exc:
        raise ValueError(f"kept checkpoint: {exc.reason}") from None
    if origin != log.config.origin or size > newest or size not in stored or stored[size].root != root:
        raise ValueError(f"kept checkpoint of size {size} is not one this log holds (newest {newest}): "
                         "run `enforcegw evidence audit --checkpoint` on it")
    return size


def _put_media(log: EvidenceLog, zf: zipfile.ZipFile, sha: str, files: dict[str, str]) -> None:
    if log.media is None:
        raise LookupError("this log has no media store")
    name = f"media/{sha}"
    h = hashlib.sha256()
    with log.media.open(sha) as src, zf.open(name, "w") as dst:
        while chunk := src.read(1 << 20):
            h.update(chunk)
            dst.write(chunk)
    files[name] = h.hexdigest()  # as read now; the verifier compares it with the entry's committed hash
