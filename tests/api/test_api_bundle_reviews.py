"""Review decisions in an alert's evidence bundle, on a real gateway: alerts opened and ended by MQTT readings,
reviewed through the HTTP API, exported with `enforcegw evidence export --alert` and `GET /api/evidence/bundle`.
Each bundle holds every review entry of its alert, the same ones as the alert's review history, listed in the
manifest and README; the bundled verify.py and `enforcegw verify` accept it under the published key and refuse
it, naming the entry, once a review entry is altered."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from api import evidence_read
from evidence.entry import Entry
from evidence.verify import leaf_hash
from gateway.cli import main
from testkit.alert_scenes import LEGAL, NOISE, alerts, ended, levels, night_base, setup_site
from testkit.api_harness import ApiGateway, api_gateway
from testkit.gateway_harness import Publisher, wait_for
from testkit.read_api import add_alert, add_device, read_client

pytestmark = pytest.mark.integration

NOISE_2 = {**NOISE, "id": "noise-cs2", "name": "Site noise 2", "location": {"lon": 113.106, "lat": 23.006}}
NOTE = "LAeq 66 dB(A) over the night limit for 22 minutes"
# (who, action, request body, the decision recorded, what README.txt shows under it: field -> text in its line);
# a body's token_id names the role whose token it is
Step = tuple[str, str, dict | None, str, dict[str, str]]
SCENES: dict[str, list[Step]] = {
    "noise-cs": [
        ("operator", "claim", None, "claim", {}),
        ("operator", "confirm", {"note": NOTE}, "confirm", {"note": NOTE}),
        ("supervisor", "legal-review", {"decision": "approve", "reason": "no night-work permit on file"},
         "legal_review", {"outcome": "approve", "reason": "no night-work permit on file",
                          "first_reviewer": '"name": "test-operator"'}),
    ],
    "noise-cs2": [
        ("operator", "claim", None, "claim", {}),
        ("operator", "release", None, "release", {}),
        ("supervisor", "claim", None, "claim", {}),
        ("supervisor", "reassign", {"token_id": "operator"}, "reassign", {"to": '"name": "test-operator"'}),
        ("operator", "dismiss", {"reason": "false_detection", "text": "generator test, logged"}, "dismiss",
         {"reason": "false_detection", "text": "generator test, logged"}),
    ],
}


async def _decide(api: ApiGateway, code: str, steps: list[Step]) -> None:
    for who, action, body, _decision, _shown in steps:
        if body is not None and "token_id" in body:
            body = {**body, "token_id": api.token_ids[body["token_id"]]}
        async with api.request("POST", f"/api/alerts/{code}/{action}", who,
                               **({} if body is None else {"json": body})) as r:
            assert r.status == 200, (action, await r.text())


async def _get(api: ApiGateway, path: str, who: str, **params: str) -> tuple[int, bytes]:
    async with api.request("GET", path, who, params=params) as r:
        return r.status, await r.read()


def _zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def _write(members: dict[str, bytes], path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _verify_py(bundle: Path, vkey: str, where: Path) -> subprocess.CompletedProcess:
    """The auditor's path: unzip, then run the verify.py the bundle carries, under the published key."""
    with zipfile.ZipFile(bundle) as z:
        z.extractall(where)
    return subprocess.run([sys.executable, "verify.py", "--vkey", vkey], cwd=where, capture_output=True, text=True,
                          timeout=60)


def _enforcegw_verify(bundle: Path, vkey: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["verify", str(bundle), "--vkey", vkey])
    return code, capsys.readouterr().out


def _altered(members: dict[str, bytes], index: int, careful: bool) -> dict[str, bytes]:
    """The review entry's decision rewritten; the careful forger also makes the manifest's hashes match."""
    forged = dict(members)
    name = f"entries/{index}.json"
    data = forged[name]
    for decision in (b"legal_review", b"dismiss"):
        data = data.replace(b'"decision":"' + decision + b'"', b'"decision":"release"')
    assert data != forged[name]
    forged[name] = data
    if careful:
        manifest = json.loads(forged["manifest.json"])
        item = next(e for e in manifest["entries"] if e["index"] == index)
        item["sha256"], item["leaf_hash"] = hashlib.sha256(data).hexdigest(), leaf_hash(data).hex()
        manifest["files"][name] = item["sha256"]
        forged["manifest.json"] = json.dumps(manifest).encode()
    return forged


async def test_reviewed_alerts_export_with_their_decisions_and_verify(
        tmp_path: Path, db_url: str, private_mosquitto: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    setup_site(db_url, {**NOISE, **LEGAL}, {**NOISE_2, **LEGAL})
    async with api_gateway(tmp_path, db_url, private_mosquitto) as api:
        pub = Publisher(private_mosquitto)
        try:
            pub.publish_all([m for device in SCENES
                             for m in levels(device, "LAeq", night_base(), [(22, 66.0), (30, 40.0)])])
            await wait_for(lambda: ended(db_url, len(SCENES)), 90, "both alerts opened and ended")
        finally:
            pub.close()
        codes = {row["device_id"]: row for row in alerts(db_url)}
        assert set(codes) == set(SCENES)
        for device, steps in SCENES.items():
            await _decide(api, codes[device]["clue_code"], steps)
        status, vkey_body = await _get(api, "/api/public/vkey", None)  # the key as the bureau publishes it
        assert status == 200
        vkey = vkey_body.decode().strip()
        monkeypatch.setenv("ENFORCEGW_DATABASE__URL", db_url)
        monkeypatch.setenv("ENFORCEGW_DATA_DIR", str(tmp_path))  # the gateway's data_dir: its signing key
        for device, steps in SCENES.items():
            row = codes[device]
            code = row["clue_code"]
            status, detail = await _get(api, f"/api/alerts/{code}", "auditor")
            assert status == 200
            history = [r["review"] for r in json.loads(detail)["reviews"]]
            assert [(h["decision"], h["reviewer"]["name"]) for h in history] == \
                [(decision, f"test-{who}") for who, _action, _body, decision, _shown in steps]
            cli_zip = tmp_path / f"{device}-cli.zip"
            assert await asyncio.to_thread(main, ["evidence", "export", "--alert", code, "-o", str(cli_zip)]) == 0
            assert f"({len(steps)} review decisions)" in capsys.readouterr().out
            status, body = await _get(api, "/api/evidence/bundle", "auditor", alert=code)
            assert status == 200
            api_zip = tmp_path / f"{device}-api.zip"
            api_zip.write_bytes(body)
            for how, bundle in (("cli", cli_zip), ("api", api_zip)):
                _check_bundle(bundle, row, history, steps)
                r = await asyncio.to_thread(_verify_py, bundle, vkey, tmp_path / f"{device}-{how}")
                assert r.returncode == 0 and r.stdout.splitlines()[-1] == "VERIFIED", r.stdout + r.stderr
                for h, (who, _action, _body, decision, _shown) in zip(history, steps, strict=True):
                    assert f"review entry {h['evidence_idx']}: {decision} of alert {code} by test-{who} ({who})" \
                        in r.stdout
                assert _enforcegw_verify(bundle, vkey, capsys)[0] == 0
            final = history[-1]["evidence_idx"]  # the legal review, the dismissal
            members = _zip(cli_zip)
            for careful, failing in ((False, f"entries/{final}.json"),
                                     (True, f"proofs/{final}.tlog-proof: entry {final} (entries/{final}.json)")):
                forged = _write(_altered(members, final, careful), tmp_path / f"{device}-forged-{careful}.zip")
                exit_code, out = _enforcegw_verify(forged, vkey, capsys)
                assert exit_code == 1 and f"FAIL {failing}" in out, out
                r = await asyncio.to_thread(_verify_py, forged, vkey, tmp_path / f"{device}-forged-{careful}")
                assert r.returncode == 1 and f"FAIL {failing}" in r.stdout, r.stdout + r.stderr


def _check_bundle(bundle: Path, row: dict, history: list[dict], steps: list[Step]) -> None:
    """The bundle holds the alert's open and end entries and each decision of its review history, in log order,
    and lists the decisions (who, role, what, when, why) in its manifest and README."""
    members = _zip(bundle)
    manifest = json.loads(members["manifest.json"])
    review_idx = [h["evidence_idx"] for h in history]
    assert [e["index"] for e in manifest["entries"]] == \
        sorted([row["evidence_open_idx"], row["evidence_end_idx"], *review_idx])
    assert [e["index"] for e in manifest["entries"] if e["entry_type"] == "review"] == review_idx
    for h in history:
        entry = json.loads(members[f"entries/{h['evidence_idx']}.json"])
        assert entry["entry_type"] == "review" and entry["payload"]["decision"] == h["decision"]
        assert f"proofs/{h['evidence_idx']}.tlog-proof" in members
    listed = manifest["reviews"]
    assert [(r["index"], r["decision"], r["reviewer"], r["role"], r["time"]) for r in listed] == \
        [(h["evidence_idx"], h["decision"], h["reviewer"]["name"], h["reviewer"]["role"], h["time"]) for h in history]
    readme = members["README.txt"].decode()
    assert f"Review decisions ({len(history)})" in readme
    blocks = readme[readme.index("Review decisions ("):].split("\n  2")[1:]  # one per decision, by its time
    assert len(blocks) == len(history)
    for h, block, listing, (who, _action, _body, decision, shown) in zip(history, blocks, listed, steps,
                                                                          strict=True):
        assert f"2{block}".startswith(f"{h['time']}  {decision} of alert {row['clue_code']} by test-{who} (role {who},")
        lines = {line.strip().partition(": ")[0]: line.strip().partition(": ")[2] for line in block.splitlines()[1:]}
        for key, text in shown.items():
            assert text in lines[key], (key, block)
        assert set(shown) <= set(listing["details"])


T0 = datetime(2026, 7, 1, 15, 0, tzinfo=UTC)


def _misfiled(conn: psycopg.Connection, alert_id: int, opened: int, _other: int) -> None:
    """A review change pointing at the alert's opening entry, which is no review."""
    conn.execute("INSERT INTO alert_changes (alert_id, clue_code, type, payload) VALUES (%s, 'M-1', 'review', %s)",
                 (alert_id, Jsonb({"review": {"decision": "confirm", "evidence_idx": opened}})))


def _foreign(conn: psycopg.Connection, alert_id: int, _opened: int, other: int) -> None:
    """A review change pointing at a review of another alert."""
    conn.execute("INSERT INTO alert_changes (alert_id, clue_code, type, payload) VALUES (%s, 'M-1', 'review', %s)",
                 (alert_id, Jsonb({"review": {"decision": "confirm", "evidence_idx": other}})))


def _unindexed(conn: psycopg.Connection, alert_id: int, _opened: int, _other: int) -> None:
    """A review change without an evidence index."""
    conn.execute("INSERT INTO alert_changes (alert_id, clue_code, type, payload) VALUES (%s, 'M-1', 'review', %s)",
                 (alert_id, Jsonb({"review": {"decision": "confirm"}})))


@pytest.mark.parametrize("damage", [_misfiled, _foreign, _unindexed], ids=lambda f: f.__name__.strip("_"))
async def test_a_review_change_naming_the_wrong_entry_gives_no_bundle(
        damage: Any, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    add_device(db_url, "d1")
    async with read_client(db_url, tmp_path / "data", evidence_read.register) as (client, ctx):
        log = ctx.evidence
        assert log is not None
        opened = log.append(Entry(entry_type="evidence", device_id="d1", payload={"clue_code": "M-1"}))
        other = log.append(Entry(entry_type="review", device_id="operator:x", payload={"clue_code": "M-2"}))
        with psycopg.connect(db_url) as conn:
            alert_id = add_alert(conn, "M-1", "d1", T0, evidence_open_idx=opened.index)["id"]
            damage(conn, alert_id, opened.index, other.index)
        resp = await client.get("/api/evidence/bundle", params={"alert": "M-1"})
        body = await resp.json()
    assert (resp.status, body["error"]["code"]) == (500, "evidence_mismatch"), body
    assert "which is not a review of this alert" in body["error"]["message"]
    monkeypatch.setenv("ENFORCEGW_DATABASE__URL", db_url)
    monkeypatch.setenv("ENFORCEGW_DATA_DIR", str(tmp_path / "data"))
    capsys.readouterr()
    for alert in ("M-1", str(alert_id)):  # by clue code or by id
        assert main(["evidence", "export", "--alert", alert, "-o", str(tmp_path / "m.zip")]) == 1
        assert "which is not a review of this alert" in capsys.readouterr().err
    assert not (tmp_path / "m.zip").exists()
