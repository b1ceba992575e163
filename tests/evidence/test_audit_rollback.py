"""A rolled-back log held to checkpoints kept outside it (`evidence audit --checkpoint`), and the audit naming
what it finds where rows were deleted: which node, how many entries a checkpoint covers beyond the log."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence.audit.auditor import AuditReport, audit_log
from evidence.audit.kept import KeptCheckpoint, read_kept
from evidence.log import EvidenceLog
from evidence.signer import NoteSigner, checkpoint_body
from evidence.verify import split_notes
from testkit.evidence_helpers import ORIGIN, entry, make_log, superuser

pytestmark = pytest.mark.integration

Audit = Callable[..., AuditReport]

MODES = {
    "one-chunk": {"workers": 1},
    "chunks-of-8-two-workers": {"workers": 2, "chunk_level": 3},
    "chunks-of-8-pure-python": {"workers": 1, "chunk_level": 3, "native": False},
}


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def log(mode: str, db_url: str, tmp_path: Path) -> Iterator[EvidenceLog]:
    with make_log(db_url, tmp_path) as lg:
        yield lg


@pytest.fixture
def audit(mode: str, log: EvidenceLog) -> Audit:
    """The audit of `log` in one of MODES."""
    return functools.partial(audit_log, log, **MODES[mode])


def _roll_back_to(db_url: str, size: int) -> None:
    """Delete every entry from `size` on with the nodes, tree heads and checkpoints covering them: a log that is
    consistent with itself, only shorter."""
    superuser(db_url, f"DELETE FROM evidence_entries WHERE idx >= {size}",
              f"DELETE FROM evidence_nodes WHERE (pos + 1) << level > {size}",
              f"DELETE FROM evidence_tree_heads WHERE size > {size}",
              f"DELETE FROM evidence_checkpoints WHERE size > {size}")


def _fill(log: EvidenceLog, n: int) -> None:
    log.append_many([entry(f"cam-{i % 3}", readings={"i": i}) for i in range(n)])


def _kept(log: EvidenceLog, name: str = "kept.note") -> KeptCheckpoint:
    return KeptCheckpoint(name, log.checkpoint().note)


def test_a_rollback_is_found_only_with_a_kept_checkpoint(audit: Audit, log: EvidenceLog, db_url: str) -> None:
    _fill(log, 40)
    older = _kept(log, "older.note")
    _fill(log, 260)
    newer = _kept(log, "case-17.note")
    root = base64.b64encode(log.latest_checkpoint().root).decode()
    _roll_back_to(db_url, 40)
    assert audit().ok  # the log alone cannot tell: it is consistent with itself
    assert audit(kept=[older]).ok
    report = audit(kept=[older, newer])
    assert [(f.kind, f.item) for f in report.findings] == [
        ("kept_checkpoint", f"kept checkpoint case-17.note (size 300, root {root})")]
    assert "covers 300 entries, the log holds 40: the log was rolled back" in report.findings[0].detail


def test_a_kept_checkpoint_of_another_history_is_a_fork(audit: Audit, log: EvidenceLog, db_url: str) -> None:
    _fill(log, 30)
    log.checkpoint()
    forged = hashlib.sha256(b"another history").digest()
    fork = KeptCheckpoint("fork.note", log.signer.sign(checkpoint_body(ORIGIN, 20, forged)))
    foreign = KeptCheckpoint("foreign.note", NoteSigner(ORIGIN, Ed25519PrivateKey.generate()).sign(
        checkpoint_body(ORIGIN, 20, forged)))
    report = audit(kept=[fork, foreign])
    found = {f.item: f.detail for f in report.findings}
    fork_item = f"kept checkpoint fork.note (size 20, root {base64.b64encode(forged).decode()})"
    assert set(found) == {fork_item, "kept checkpoint foreign.note"}
    assert "not consistent with the log's 30 entries" in found[fork_item]
    assert "no signature by a known key" in found["kept checkpoint foreign.note"]


def test_a_kept_checkpoint_deleted_from_the_log_is_named(audit: Audit, log: EvidenceLog, db_url: str) -> None:
    _fill(log, 10)
    kept = _kept(log)
    _fill(log, 10)
    log.checkpoint()
    superuser(db_url, "DELETE FROM evidence_checkpoints WHERE size = 10")
    assert audit().ok
    (finding,) = audit(kept=[kept]).findings
    assert finding.item.startswith("kept checkpoint kept.note (size 10,")
    assert "no longer among its stored checkpoints" in finding.detail


def test_a_deleted_node_is_named_with_its_expected_hash(audit: Audit, log: EvidenceLog, db_url: str) -> None:
    _fill(log, 40)
    log.checkpoint()
    with psycopg.connect(db_url) as c:
        want = bytes(c.execute("SELECT hash FROM evidence_nodes WHERE level = 4 AND pos = 1").fetchone()[0])
    superuser(db_url, "DELETE FROM evidence_nodes WHERE level = 4 AND pos = 1")
    (finding,) = audit().findings
    assert (finding.kind, finding.item) == ("node", "node (4, 1)")
    assert f"missing (level 4 should hold 2 nodes for the integrated tree), expected hash {want.hex()} of leaves " \
           "16..31" in finding.detail


def test_the_newest_node_deleted_is_named(audit: Audit, log: EvidenceLog, db_url: str) -> None:
    _fill(log, 40)
    log.checkpoint()
    superuser(db_url, "DELETE FROM evidence_nodes WHERE level = 4 AND pos = 0")
    assert [f.item for f in audit().findings] == ["node (4, 0)"]


def test_the_newest_entry_deleted_says_the_checkpoint_covers_more(audit: Audit, log: EvidenceLog, db_url: str) -> None:
    _fill(log, 40)
    log.checkpoint()
    superuser(db_url, "DELETE FROM evidence_entries WHERE idx = 39")
    found = {f.item: f.detail for f in audit().findings}
    assert "covers 40 entries, the log holds 39: entries 39..39 are missing" in found["checkpoint 40"]
    assert "covers 40 entries, the log holds 39" in found["tree head 40"]


@pytest.mark.parametrize("between", ["", "\n", "\n\n"])
def test_split_notes(log: EvidenceLog, between: str) -> None:
    _fill(log, 3)
    a = log.checkpoint().note
    _fill(log, 3)
    b = log.checkpoint().note
    assert split_notes(a) == [a]
    assert split_notes(a + between + b + between) == [a, b]
    assert [k.source for k in read_kept("f", a + b)] == ["f#1", "f#2"]


def test_cli_checkpoint_file_and_audit(db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evidence.config import EvidenceConfig
    from gateway.cli import main

    data_dir = tmp_path / "gw"
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(json.dumps({"data_dir": str(data_dir), "database": {"url": db_url}}))
    kept = tmp_path / "kept.notes"
    with EvidenceLog.open(db_url, EvidenceConfig(), data_dir) as glog:
        _fill(glog, 20)
        assert main(["-c", str(cfg), "evidence", "checkpoint", "-o", str(kept)]) == 0
        _fill(glog, 20)
        assert main(["-c", str(cfg), "evidence", "checkpoint", "-o", str(kept), "--append"]) == 0
    assert "checkpoint size 40 added to" in capsys.readouterr().out
    assert [n.split("\n")[1] for n in split_notes(kept.read_text())] == ["20", "40"]
    assert main(["-c", str(cfg), "evidence", "audit", "--no-progress", "--checkpoint", str(kept)]) == 0
    assert "held to 2 kept checkpoint(s) from 1 file(s)" in capsys.readouterr().out
    _roll_back_to(db_url, 20)
    assert main(["-c", str(cfg), "evidence", "audit", "--no-progress"]) == 0
    capsys.readouterr()
    report = tmp_path / "audit.json"
    assert main(["-c", str(cfg), "evidence", "audit", "--no-progress", "--checkpoint", str(kept),
                 "--report", str(report)]) == 1
    (finding,) = json.loads(report.read_text())["findings"]
    assert finding["kind"] == "kept_checkpoint" and finding["item"].startswith(f"kept checkpoint {kept}#2 (size 40,")
    assert "rolled back" in finding["detail"]
    assert main(["-c", str(cfg), "evidence", "audit", "--checkpoint", str(tmp_path / "nope")]) == 2
    assert "cannot read it" in capsys.readouterr().err
    assert main(["-c", str(cfg), "evidence", "checkpoint", "--append"]) == 2
