"""The PostgreSQL log: append, chains, checkpoints, proofs, append-only tables, and the audit finding
(and locating) every kind of tampering."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence import sequencer
from evidence.audit import native as accelerator
from evidence.audit import notes as audit_notes
from evidence.audit.auditor import AuditReport, audit_log
from evidence.entry import encode
from evidence.entry_bytes import chain_fields
from evidence.log import AsyncEvidenceLog, EvidenceLog, MediaInput, NotCheckpointed
from evidence.signer import NoteSigner, checkpoint_body
from evidence.verify import VerificationError, leaf_hash, verify_consistency, verify_inclusion
from testkit.evidence_helpers import ORIGIN, entry, make_log, ref_mth, superuser

pytestmark = pytest.mark.integration

Audit = Callable[..., AuditReport]


@pytest.fixture
def log(db_url: str, tmp_path: Path) -> Iterator[EvidenceLog]:
    with make_log(db_url, tmp_path) as lg:
        yield lg


# The audit scans aligned chunks (in worker processes when asked); small chunks put every tamper case
# on or across chunk boundaries, and two workers run the parallel path end to end. The modes run the C
# accelerator's path where it is built; the pure-Python modes keep the fallback honest.
AUDIT_MODES = {
    "one-chunk": {"workers": 1},
    "chunks-of-8": {"workers": 1, "chunk_level": 3},
    "chunks-of-4-two-workers": {"workers": 2, "chunk_level": 2},
    "chunks-of-8-pure-python": {"workers": 1, "chunk_level": 3, "native": False},
    "chunks-of-4-two-workers-pure-python": {"workers": 2, "chunk_level": 2, "native": False},
}


@pytest.fixture(params=list(AUDIT_MODES))
def audit_mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def audit(audit_mode: str, log: EvidenceLog) -> Audit:
    """The audit of `log` in one of AUDIT_MODES."""
    return functools.partial(audit_log, log, **AUDIT_MODES[audit_mode])


def _fill(log: EvidenceLog, n: int, devices: int = 3) -> None:
    log.append_many([entry(f"cam-{i % devices}", readings={"i": i}) for i in range(n)])


def _items(audit: Audit) -> set[str]:
    return {f.item for f in audit().findings}


def test_append_chains_and_stored_bytes(log: EvidenceLog, db_url: str) -> None:
    a = log.append(entry("cam-1"), [MediaInput("snapshot", "image/jpeg", b"\xff\xd8jpeg")])
    b = log.append(entry("cam-2"))
    c = log.append(entry("cam-1"))
    assert (a.index, b.index, c.index) == (0, 1, 2)
    assert (a.device_seq, b.device_seq, c.device_seq) == (0, 0, 1)
    index, leaf = c
    assert (index, leaf) == (2, c.leaf_hash)
    assert log.append(entry("cam-3", refs=[0, 2])).index == 3
    with pytest.raises(ValueError, match="earlier entries"):
        log.append(entry("cam-3", refs=[4]))
    data = log.entry(2)
    assert leaf_hash(data) == c.leaf_hash
    assert chain_fields(data) == ("cam-1", 1, a.leaf_hash)
    assert chain_fields(log.entry(0))[2] is None
    assert log.media is not None and log.media.exists(hashlib.sha256(b"\xff\xd8jpeg").hexdigest())


def test_proofs_only_against_checkpoints(log: EvidenceLog) -> None:
    _fill(log, 5)
    with pytest.raises(NotCheckpointed):
        log.prove(0)
    cp1 = log.checkpoint()
    _fill(log, 30)
    cp2 = log.checkpoint()
    assert (cp1.size, cp2.size) == (5, 35)
    leaves = [log.entry(i) for i in range(35)]
    assert cp2.root == ref_mth(leaves) and cp1.root == ref_mth(leaves[:5])
    for i in range(35):
        p = log.prove(i)
        assert p.size == 35
        verify_inclusion(i, p.size, p.leaf_hash, p.path, cp2.root)
    p = log.prove(3, size=5)
    verify_inclusion(3, 5, p.leaf_hash, p.path, cp1.root)
    with pytest.raises(NotCheckpointed):
        log.prove(3, size=20)  # not a checkpoint size: refused (spec S5)
    with pytest.raises(NotCheckpointed):
        log.prove(10, size=5)
    verify_consistency(5, 35, cp1.root, cp2.root, log.consistency(5, 35))
    with pytest.raises(NotCheckpointed):
        log.consistency(5, 30)
    assert log.checkpoint() == cp2  # nothing new: no second signature of the same size


def test_tables_are_append_only(log: EvidenceLog, db_url: str) -> None:
    _fill(log, 40)
    log.checkpoint()
    with psycopg.connect(db_url, autocommit=True) as c:
        for sql in ["UPDATE evidence_entries SET entry = 'x' WHERE idx = 0",
                    "DELETE FROM evidence_entries WHERE idx = 39",
                    "UPDATE evidence_nodes SET hash = hash",
                    "DELETE FROM evidence_tree_heads",
                    "UPDATE evidence_checkpoints SET note = ''",
                    "TRUNCATE evidence_entries CASCADE",
                    "TRUNCATE evidence_checkpoints CASCADE"]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                c.execute(sql)


def test_audit_clean_log(audit_mode: str, audit: Audit, log: EvidenceLog) -> None:
    for k in range(1, 8):
        log.append(entry("cam-m"), [MediaInput("snapshot", "image/jpeg", b"img%d" % k)])
        _fill(log, 37 * k)
        log.checkpoint()
    report = audit()
    assert report.ok, report.findings
    assert report.entries == 7 + 37 * 28 and report.checkpoints == 7 and report.media_files == 7
    # A clean log is confirmed by the fast paths alone: the per-entry exact path is only for doubts.
    fast = "native" if report.engine == "native" else "fast"
    assert set(report.chunks) == {fast}, report.chunks
    assert report.engine == ("native" if accelerator.available() and "python" not in audit_mode else "python")


def test_audit_finds_flipped_media_byte(audit: Audit, log: EvidenceLog) -> None:
    a = log.append(entry(), [MediaInput("clip", "video/mp4", b"original clip")])
    log.checkpoint()
    sha = json.loads(log.entry(a.index))["media"][0]["sha256"]
    path = log.media.path(sha)
    path.chmod(0o644)
    raw = bytearray(path.read_bytes())
    raw[0] ^= 0x20
    path.write_bytes(bytes(raw))
    assert _items(audit) == {f"media {sha}"}


def test_audit_finds_flipped_entry_byte(audit: Audit, log: EvidenceLog, db_url: str) -> None:
    _fill(log, 50)
    log.checkpoint()
    superuser(db_url, "UPDATE evidence_entries SET entry = set_byte(entry, 29, get_byte(entry, 29) # 1) WHERE idx = 17")
    assert "entry 17" in _items(audit)


def test_audit_finds_flipped_node_hash(audit: Audit, log: EvidenceLog, db_url: str) -> None:
    _fill(log, 300)
    log.checkpoint()
    # XOR, not an overwrite: a byte set to the value it already had would change nothing (1 run in 256).
    superuser(db_url, "UPDATE evidence_nodes SET hash = set_byte(hash, 4, get_byte(hash, 4) # 255) "
                       "WHERE level = 4 AND pos = 9")
    assert _items(audit) == {"node (4, 9)"}
    # ... and a proof built from the edited node no longer verifies against the signed root.
    p = log.prove(8 * 16 + 3)  # node (4, 9) is the level-4 sibling on this leaf's path
    with pytest.raises(VerificationError):
        verify_inclusion(p.index, p.size, p.leaf_hash, p.path, p.root)


def test_audit_finds_swapped_entries(audit: Audit, log: EvidenceLog, db_url: str) -> None:
    _fill(log, 64, devices=1)
    log.checkpoint()
    # Swap entries 20 and 21 completely (bytes, leaf hash, columns): each row is self-consistent.
    superuser(db_url, """
        WITH a AS (SELECT * FROM evidence_entries WHERE idx IN (20, 21))
        UPDATE evidence_entries e SET entry = a.entry, leaf_hash = a.leaf_hash, device_seq = a.device_seq + 1000000
        FROM a WHERE a.idx = 41 - e.idx""")
    superuser(db_url, "UPDATE evidence_entries SET device_seq = device_seq - 1000000 WHERE device_seq >= 1000000")
    items = _items(audit)
    assert {"entry 20", "node (4, 1)", "checkpoint 64"} <= items


def test_audit_finds_removed_entry(audit: Audit, log: EvidenceLog, db_url: str) -> None:
    _fill(log, 40)
    log.checkpoint()
    superuser(db_url, "DELETE FROM evidence_entries WHERE idx = 33")
    report = audit()
    assert any(f.item == "entry 33" and "missing" in f.detail for f in report.findings)
    assert any(f.item == "checkpoint 40" for f in report.findings)


def test_audit_finds_device_chain_gap(audit: Audit, log: EvidenceLog, db_url: str) -> None:
    _fill(log, 10, devices=1)
    log.checkpoint()
    # An entry claiming seq 12 of cam-0 (10 and 11 never arrived), appended by a writer bypassing the API.
    prev = leaf_hash(log.entry(9))
    data = encode(entry("cam-0"), origin=ORIGIN, device_seq=12, device_prev_hash=prev)
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute("INSERT INTO evidence_entries (idx, leaf_hash, entry, device_id, device_seq, entry_type) "
                  "VALUES (10, %s, %s, 'cam-0', 12, 'evidence')", (leaf_hash(data), data))
    log.checkpoint()
    report = audit()
    assert [(f.kind, f.item) for f in report.findings] == [("chain", "entry 10")]
    assert "sequence 12 where 10 was expected" in report.findings[0].detail


def test_checkpoint_signed_by_another_key(audit: Audit, log: EvidenceLog, db_url: str) -> None:
    _fill(log, 8)
    log.checkpoint()
    _fill(log, 8)
    log.integrate()
    intruder = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    root = log.prove(0).root  # any root; the signature is what matters
    note = intruder.sign(checkpoint_body(ORIGIN, 12, root))
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute("INSERT INTO evidence_checkpoints (size, root, note, key_id) VALUES (12, %s, %s, %s)",
                  (root, note, intruder.key_id))
    assert "checkpoint 12" in _items(audit)
    # ... and the log refuses to sign on top of it.
    with pytest.raises(VerificationError), log.pool.connection() as conn:
        sequencer.sign_checkpoint(conn, log.signer)


def test_audit_finds_edited_tree_heads(audit: Audit, log: EvidenceLog, db_url: str) -> None:
    _fill(log, 10)
    log.integrate()
    _fill(log, 6)
    log.checkpoint()
    assert audit().ok
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute("ALTER TABLE evidence_tree_heads DISABLE TRIGGER USER")
        c.execute("UPDATE evidence_tree_heads SET root = %s WHERE size = 10", (b"\x11" * 32,))
        c.execute("INSERT INTO evidence_tree_heads (size, root) VALUES (99, %s)", (b"\x22" * 32,))
        c.execute("ALTER TABLE evidence_tree_heads ENABLE TRIGGER USER")
    report = audit()
    assert {f.item for f in report.findings if f.kind == "tree_head"} == {"tree head 10", "tree head 99"}


def test_audit_finds_a_fork_signed_by_our_own_key(audit: Audit, log: EvidenceLog, db_url: str) -> None:
    """A checkpoint our key signed over another history (a stolen key, or a sequencer bug): its root is not the
    rebuilt one, and the next honest checkpoint is not consistent with it."""
    _fill(log, 8)
    log.checkpoint()
    _fill(log, 8)
    forged = hashlib.sha256(b"another history").digest()
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute("INSERT INTO evidence_checkpoints (size, root, note, key_id) VALUES (12, %s, %s, %s)",
                  (forged, log.signer.sign(checkpoint_body(ORIGIN, 12, forged)), log.signer.key_id))
    with psycopg.connect(db_url, autocommit=True) as c:  # the sequencer would refuse to sign on top of the fork
        c.execute("INSERT INTO evidence_checkpoints (size, root, note, key_id) VALUES (16, %s, %s, %s)",
                  (log.integrate()[1], log.signer.sign(checkpoint_body(ORIGIN, 16, log.integrate()[1])),
                   log.signer.key_id))
    report = audit()
    assert [(f.kind, f.item) for f in report.findings] == [("checkpoint", "checkpoint 12"),
                                                           ("consistency", "checkpoint 16")]
    assert "not consistent with checkpoint 12" in report.findings[1].detail


async def test_async_api(log: EvidenceLog) -> None:
    alog = AsyncEvidenceLog(log)
    appended = await asyncio.gather(*(alog.append(entry(f"d{i % 2}")) for i in range(10)))
    assert sorted(a.index for a in appended) == list(range(10))
    cp = await alog.checkpoint()
    p = await alog.prove(7)
    verify_inclusion(7, cp.size, p.leaf_hash, p.path, cp.root)


@pytest.mark.parametrize(("column", "value"), [("device_seq", 77), ("entry_type", "notice"),
                                             ("device_id", "cam-2")])
def test_audit_checks_copied_columns_and_odd_device_ids(audit: Audit, log: EvidenceLog, db_url: str,
                                                        column: str, value: object) -> None:
    odd = 'cam "7" \\ ü'  # needs JSON escapes: the audit's confirm-fast path must still match it
    log.append_many([entry(odd) for _ in range(5)] + [entry("cam-1", entry_type="review") for _ in range(5)])
    log.checkpoint()
    assert audit().ok
    superuser(db_url, (f"UPDATE evidence_entries SET {column} = %s WHERE idx = 7", (value,)))
    report = audit()
    assert [(f.kind, f.item) for f in report.findings] == [("entry", "entry 7")]
    assert f"{column} column" in report.findings[0].detail
    assert report.chunks.get("exact", 0) >= 1  # the tampered chunk was re-read entry by entry


def test_append_with_callers_transaction(log: EvidenceLog) -> None:
    with log.pool.connection() as conn:
        with pytest.raises(RuntimeError), conn.transaction():
            log.append_with(conn, [entry("cam-t"), (entry("cam-t"), [MediaInput("raw", "text/plain", b"r")])])
            raise RuntimeError("the caller's transaction fails")
        with conn.transaction():
            (a,) = log.append_with(conn, [entry("cam-t")])
    assert (a.index, a.device_seq) == (0, 0)  # the rolled-back appends left no gap in the log or chain
    assert log.prepare(entry("cam-t"), [MediaInput("raw", "text/plain", b"r")]).media[0].size == 1


def test_audit_finds_chain_break_on_a_chunk_boundary(audit: Audit, log: EvidenceLog, db_url: str) -> None:
    _fill(log, 8, devices=1)
    log.checkpoint()
    # Entry 8 opens a chunk in the chunked modes: its link is judged by the parent's stitching.
    data = encode(entry("cam-0"), origin=ORIGIN, device_seq=9, device_prev_hash=leaf_hash(log.entry(7)))
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute("INSERT INTO evidence_entries (idx, leaf_hash, entry, device_id, device_seq, entry_type) "
                  "VALUES (8, %s, %s, 'cam-0', 9, 'evidence')", (leaf_hash(data), data))
    _fill(log, 3, devices=1)  # the chain goes on from the broken link: only entry 8 is a finding
    log.checkpoint()
    report = audit()
    assert [(f.kind, f.item) for f in report.findings] == [("chain", "entry 8")]
    assert "sequence 9 where 8 was expected" in report.findings[0].detail


def test_audit_without_the_accelerator(log: EvidenceLog, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where evidence.audit._scan could not be built, the same audit runs on the Python paths alone."""
    monkeypatch.setattr(accelerator, "_scan", None)
    _fill(log, 40)
    log.checkpoint()
    report = audit_log(log, workers=1, chunk_level=4)
    assert report.ok and report.engine == "python" and report.chunks == {"fast": 3}
    superuser(db_url, "UPDATE evidence_entries SET device_seq = 99 WHERE idx = 20")
    report = audit_log(log, workers=1, chunk_level=4)
    assert [f.item for f in report.findings] == ["entry 20"] and report.chunks == {"fast": 2, "exact": 1}


def test_audit_checks_many_signatures_in_another_process(log: EvidenceLog, db_url: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Past IN_ANOTHER_PROCESS notes the signatures are checked in a spawned process, with the same findings."""
    monkeypatch.setattr(audit_notes, "IN_ANOTHER_PROCESS", 3)
    started: list[object] = []

    class CountedPool(audit_notes.ProcessPoolExecutor):
        def __init__(self, *args: object, **kwargs: object) -> None:
            started.append(self)
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(audit_notes, "ProcessPoolExecutor", CountedPool)
    for _ in range(4):
        _fill(log, 3)
        log.checkpoint()
    report = audit_log(log, workers=1)
    assert report.ok and report.checkpoints == 4 and len(started) == 1
    intruder = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute("INSERT INTO evidence_checkpoints (size, root, note, key_id) VALUES (5, %s, %s, %s)",
                  (b"\x01" * 32, intruder.sign(checkpoint_body(ORIGIN, 5, b"\x01" * 32)), intruder.key_id))
    report = audit_log(log, workers=1)
    assert [(f.kind, f.item) for f in report.findings] == [("checkpoint", "checkpoint 5")]
    assert "no signature by a known key" in report.findings[0].detail
