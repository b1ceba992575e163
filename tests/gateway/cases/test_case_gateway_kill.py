"""The gateway process killed with SIGKILL between sending a task and recording the answer: after a restart the
same webhook-id is sent again, and the receiver keeps one task and answers with the case number it gave."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
import yaml

from gateway.cases.config import CaseSystem
from gateway.cases.signing import WebhookSecret
from gateway.cases.sink import CaseSink
from testkit.case_tasks import SECRET, make_tasks
from testkit.paths import REPO
from testkit.services import free_port

pytestmark = pytest.mark.integration


def _gateway(tmp_path: Path, db_url: str, mqtt_url: str, sink_url: str) -> subprocess.Popen:
    config = tmp_path / "gw.yaml"
    config.write_text(yaml.safe_dump({
        "data_dir": str(tmp_path / "data"), "database": {"url": db_url},
        "mqtt": {"url": mqtt_url, "client_id": "gw-case-kill"}, "api": {"listen": f"127.0.0.1:{free_port()}"},
        "log": {"level": "WARNING"},
        "cases": {"poll_s": 0.2, "lease_margin_s": 1.0,
                  "systems": [{"name": "city", "url": sink_url, "secret": SECRET, "timeout_s": 10,
                               "ack_path": "case_no"}]}}))
    return subprocess.Popen([sys.executable, "-m", "api.main", "-c", str(config), "run"], cwd=REPO,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _state(db_url: str) -> tuple[str, str | None, int]:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT state, receiver_ref, attempts FROM case_deliveries").fetchone()


async def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_sigkill_between_send_and_record_resends_the_same_id(tmp_path: Path, db_url: str,
                                                                     mqtt_url: str) -> None:
    async with CaseSink([WebhookSecret.parse(SECRET)], stall_s=4) as sink:
        system = CaseSystem.model_validate({"name": "city", "url": sink.url, "secret": SECRET})
        make_tasks(db_url, 1, [system])
        proc = _gateway(tmp_path, db_url, mqtt_url, sink.url)
        try:
            await _until(lambda: sink.in_flight > 0, 60, "the task in flight")
            proc.send_signal(signal.SIGKILL)
            await asyncio.to_thread(proc.wait, 10)
            await _until(lambda: len(sink.receipts) == 1, 10, "the receiver to finish the stalled request")
            assert _state(db_url)[0] == "delivering", "the answer was never recorded"
            sink.stall_s = 0
            proc = _gateway(tmp_path, db_url, mqtt_url, sink.url)
            await _until(lambda: _state(db_url)[0] == "acknowledged", 60, "the resent task recorded")
        finally:
            proc.kill()
            await asyncio.to_thread(proc.wait, 10)
    _state_now, ref, attempts = _state(db_url)
    assert len(sink.receipts) == 1 and sink.counts.get("duplicate") == 1 and attempts == 2
    assert ref == sink.receipts[0].case_no
