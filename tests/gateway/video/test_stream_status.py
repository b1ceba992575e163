"""Stream status as people read it: `enforcegw streams list` shows every configured stream with the state its
gateway stored (a disabled one as disabled, one never reported as such), a gateway that stopped writing is named as
not reporting, a stream reported under another config still shows, and passwords never appear."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import yaml

from gateway.cli import main
from gateway.video.status_store import STALE_AFTER_S, read_statuses, write_statuses

NOW = datetime.now(UTC)


def status(stream_id: str, state: str, **extra) -> dict:
    return {"id": stream_id, "device_id": "cam-1", "url": "rtsp://admin:***@10.0.0.5/1", "state": state,
            "since": NOW, "frames_read": 100, "frames_kept": 20, "reconnects": 1, "fps": 5.0, **extra}


@pytest.mark.integration
def test_streams_list_joins_config_and_stored_state(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ENFORCEGW_DATABASE__URL", db_url)
    monkeypatch.setenv("COLUMNS", "240")  # the table unwrapped
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(yaml.safe_dump({"video": {"streams": [
        {"id": "gate", "url": "rtsp://admin:hunter2@10.0.0.5/1", "device_id": "cam-1"},
        {"id": "bridge", "url": "rtmp://10.0.0.6/live/b", "device_id": "cam-2"},
        {"id": "spare", "url": "rtsp://10.0.0.7/1", "device_id": "cam-3", "enabled": False},
        {"id": "river", "url": "http://10.0.0.8/live.flv", "device_id": "cam-4"},
    ]}}))
    with psycopg.connect(db_url, autocommit=True) as conn:
        write_statuses(conn, [status("gate", "live"), status("river", "failed", last_error="connection refused"),
                              status("old-cam", "live")], reporter="host:1")
        conn.execute("UPDATE stream_status SET updated_at = now() - make_interval(secs => %s)"
                     " WHERE stream_id = 'river'", (STALE_AFTER_S + 5,))
        # A second write of the same stream replaces its row.
        write_statuses(conn, [status("gate", "stalled", last_error="no frame for 5 s")], reporter="host:2")
    assert main(["-c", str(cfg), "streams", "list", "--json"]) == 0
    out = capsys.readouterr().out.splitlines()  # log lines (store.migrated) share stdout with the JSON lines
    rows = {r["id"]: r for r in (json.loads(line) for line in out if line.startswith("{"))}
    assert rows["gate"]["state"] == "stalled" and rows["gate"]["last_error"] == "no frame for 5 s"
    assert rows["gate"]["reporter"] == "host:2"
    assert rows["bridge"]["state"] == "not_reported"
    assert rows["spare"]["state"] == "disabled"
    assert rows["river"]["state"] == "failed (gateway not reporting)"
    assert rows["old-cam"]["configured"] is False
    out = json.dumps(rows)
    assert "hunter2" not in out and "admin:***@10.0.0.5" in out
    assert main(["-c", str(cfg), "streams", "list"]) == 0  # the table renders the same rows
    table = capsys.readouterr().out
    assert "stalled" in table and "not_reported" in table


@pytest.mark.integration
def test_read_statuses_marks_rows_older_than_the_stale_limit(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        write_statuses(conn, [status("a", "live"), status("b", "live")], reporter="h:1")
        conn.execute("UPDATE stream_status SET updated_at = now() - interval '1 hour' WHERE stream_id = 'b'")
        rows = {r["stream_id"]: r for r in read_statuses(conn)}
        assert rows["a"]["reporting"] and not rows["b"]["reporting"]
        later = {r["stream_id"]: r for r in read_statuses(
            conn, now=datetime.now(UTC) + timedelta(seconds=STALE_AFTER_S + 60))}
        assert not later["a"]["reporting"]
