"""The gateway publishes its evidence log's verifier key at GET /api/public/vkey (text/plain), the same key
`enforcegw keys show` prints, so receivers of a bundle can check it against a key from outside the bundle."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import pytest

from gateway.cli import main
from testkit.gateway_harness import gateway_settings, started

pytestmark = pytest.mark.integration


async def test_public_vkey_endpoint_serves_the_log_key(
    tmp_path: Path, db_url: str, mqtt_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = await started(gateway_settings(tmp_path, db_url, mqtt_url))
    try:
        assert gw.http is not None and gw.evidence is not None
        url = f"http://127.0.0.1:{gw.http.port}/api/public/vkey"
        with await asyncio.to_thread(urllib.request.urlopen, url, None, 5) as r:
            status, ctype, body = r.status, r.headers["Content-Type"], r.read().decode()
    finally:
        await gw.stop()
    assert status == 200 and ctype.startswith("text/plain")
    assert body == gw.evidence.vkey + "\n"
    name, key_hash, key = body.strip().split("+", 2)  # <name>+<hash>+<base64 key>, which may hold "+"
    assert name == gw.settings.evidence.origin and len(key_hash) == 8 and key
    monkeypatch.setenv("ENFORCEGW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ENFORCEGW_DATABASE__URL", db_url)
    capsys.readouterr()
    assert main(["keys", "show"]) == 0
    assert capsys.readouterr().out == body
