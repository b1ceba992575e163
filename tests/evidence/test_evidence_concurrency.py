"""Two OS processes append and sequence at once: one log, no gaps, every checkpoint consistent with the next."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from evidence.audit.auditor import audit_log
from evidence.verify import parse_checkpoint, verify_consistency, verify_note
from testkit.evidence_helpers import make_log

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKER = Path(__file__).with_name("evidence_worker.py")
REPO = Path(__file__).resolve().parents[2]


def test_two_processes_one_consistent_log(db_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, str(WORKER), db_url, str(tmp_path), name, "60"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for name in ("a", "b")]
    for p in procs:
        out, _ = p.communicate(timeout=240)
        assert p.returncode == 0, out

    with psycopg.connect(db_url) as c:
        idx = [r[0] for r in c.execute("SELECT idx FROM evidence_entries ORDER BY idx")]
        assert idx == list(range(len(idx))) and len(idx) > 300
        for device, seqs in c.execute("SELECT device_id, array_agg(device_seq ORDER BY device_seq) "
                                      "FROM evidence_entries GROUP BY device_id"):
            assert seqs == list(range(len(seqs))), device
        writers = {r[0] for r in c.execute(
            "SELECT DISTINCT convert_from(entry, 'UTF8')::jsonb #>> '{payload,writer}' FROM evidence_entries "
            "WHERE device_id = 'shared'")}
        assert writers == {"a", "b"}

    with make_log(db_url, tmp_path) as log:  # the same key file both workers used
        cps = log.checkpoints()
        assert len(cps) >= 5 and cps[-1].size == len(idx)
        for cp in cps:
            assert parse_checkpoint(verify_note(cp.note, [log.vkey]))[1:3] == (cp.size, cp.root)
        for prev, cur in itertools.pairwise(cps):
            verify_consistency(prev.size, cur.size, prev.root, cur.root, log.consistency(prev.size, cur.size))
        report = audit_log(log)
        assert report.ok, report.findings
