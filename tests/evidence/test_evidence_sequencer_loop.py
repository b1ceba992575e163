"""The one sequencer loop (EvidenceLog.run_sequencer, which the gateway's evidence-sequencer worker runs): it
integrates and signs on schedule, and a step that fails is logged and retried instead of ending the loop."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from evidence.log import EvidenceLog
from testkit.evidence_helpers import entry, make_log, superuser

pytestmark = pytest.mark.integration

WAIT_STEPS = 1500  # polls of 0.02 s at most: a bound for a stuck loop, not a timing assertion


def _fill(log: EvidenceLog, n: int) -> None:
    log.append_many([entry(f"cam-{i % 3}", readings={"i": i}) for i in range(n)])


def _until(stop: threading.Event, done: Callable[[], bool]) -> bool:
    for _ in range(WAIT_STEPS):
        if done():
            return True
        stop.wait(0.02)
    return done()


def test_checkpoint_schedule(db_url: str, tmp_path: Path) -> None:
    with make_log(db_url, tmp_path, checkpoint_every_entries=10, checkpoint_interval_s=3600) as log:
        _fill(log, 3)
        assert log.sequence_once().size == 3  # the first checkpoint is due at once
        _fill(log, 9)
        assert log.sequence_once() is None  # 9 < 10 and the interval has not passed
        _fill(log, 1)
        assert log.sequence_once().size == 13
    with make_log(db_url, tmp_path, checkpoint_every_entries=1000, checkpoint_interval_s=0.01) as log:
        _fill(log, 1)
        assert log.sequence_once().size == 14  # interval passed, one pending entry
        stop = threading.Event()
        t = threading.Thread(target=log.run_sequencer, args=(stop, 0.01))
        t.start()
        _fill(log, 5)
        _until(stop, lambda: log.latest_checkpoint().size == 19)
        stop.set()
        t.join()
        assert log.latest_checkpoint().size == 19


def test_a_failing_step_is_logged_and_retried(db_url: str, tmp_path: Path) -> None:
    """A stored checkpoint whose columns differ from its signed note makes every signing step refuse (the log
    never signs on top of what it cannot verify). The loop logs each refusal, keeps beating, and signs as soon
    as the row is whole again."""
    with make_log(db_url, tmp_path, checkpoint_every_entries=1, checkpoint_interval_s=0.01) as log:
        _fill(log, 3)
        root = log.checkpoint().root
        superuser(db_url, ("UPDATE evidence_checkpoints SET root = %s WHERE size = 3", (b"\x00" * 32,)))
        _fill(log, 2)
        stop = threading.Event()
        beats: list[int] = []
        with capture_logs() as logs:

            def failures() -> list[dict]:
                return [e for e in logs if e["event"] == "evidence.sequencer_failed"]

            t = threading.Thread(target=log.run_sequencer, args=(stop, 0.01),
                                 kwargs={"on_beat": lambda: beats.append(1), "backoff_s": 0.01})
            t.start()
            assert _until(stop, lambda: len(failures()) >= 3), "the loop did not retry the failing step"
            assert t.is_alive()
            assert log.latest_checkpoint().size == 3  # refused: nothing signed over the damaged row
            superuser(db_url, ("UPDATE evidence_checkpoints SET root = %s WHERE size = 3", (root,)))
            assert _until(stop, lambda: log.latest_checkpoint().size == 5)
            stop.set()
            t.join()
    seen = failures()
    assert seen[0]["log_level"] == "error" and seen[0]["retry_in_s"] == 0.01 and seen[0]["exc_info"]
    assert len(beats) > len(seen)  # one beat per step, the failed ones included
