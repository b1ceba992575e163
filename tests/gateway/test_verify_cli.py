"""`enforcegw verify` takes the log's key from outside the bundle: --vkey (a key or a file), --vkey-url (the key
the bureau publishes, over real HTTP), or the log configured with -c; never the bundle's own key alone."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence.bundle import export_bundle
from evidence.config import EvidenceConfig
from evidence.entry import Entry
from evidence.log import EvidenceLog
from evidence.signer import NoteSigner
from gateway.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture
def setup(db_url: str, tmp_path: Path) -> tuple[Path, Path, str]:
    """A config for a log, a bundle it exported, and its vkey."""
    data_dir = tmp_path / "gw"
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(json.dumps({"data_dir": str(data_dir), "database": {"url": db_url}}))
    with EvidenceLog.open(db_url, EvidenceConfig(), data_dir) as log:
        log.append(Entry(entry_type="evidence", device_id="cam-1"))
        export_bundle(log, [0], tmp_path / "case.zip", purpose="p", producer="p")
        return cfg, tmp_path / "case.zip", log.vkey


@pytest.fixture
def published() -> Iterator[tuple[str, list[bytes]]]:
    """An HTTP server answering /api/public/vkey with whatever the test puts in the list."""
    body: list[bytes] = [b""]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 200 if self.path == "/api/public/vkey" else 404
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(body[0] if status == 200 else b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", body
    server.shutdown()
    server.server_close()


def test_the_configured_logs_key(setup: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    cfg, bundle, vkey = setup
    assert main(["-c", str(cfg), "verify", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert f"verifier key of the configured log ({cfg.parent / 'gw' / 'keys' / 'evidence.key'}): {vkey}" in out
    assert out.splitlines()[-1] == "VERIFIED"


def test_vkey_as_text_or_file(setup: tuple[Path, Path, str], tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    _, bundle, vkey = setup
    key_file = tmp_path / "published.vkey"
    key_file.write_text(vkey + "\n")
    assert main(["verify", str(bundle), "--vkey", vkey]) == 0
    assert main(["verify", str(bundle), "--vkey", str(key_file)]) == 0
    other = NoteSigner("evidence.enforcegw.example/log1", Ed25519PrivateKey.generate()).vkey
    assert main(["verify", str(bundle), "--vkey", other]) == 1
    assert "FAIL verifier.vkey: differs from the verifier key given" in capsys.readouterr().out
    assert main(["verify", str(bundle), "--vkey", "not a key"]) == 2
    assert "--vkey not a key: not <name>+<keyid>+<base64>" in capsys.readouterr().err


def test_vkey_url(setup: tuple[Path, Path, str], published: tuple[str, list[bytes]],
                  capsys: pytest.CaptureFixture[str]) -> None:
    _, bundle, vkey = setup
    base, body = published
    body[0] = (vkey + "\n").encode()
    assert main(["verify", str(bundle), "--vkey-url", f"{base}/api/public/vkey"]) == 0
    assert f"verifier key from {base}/api/public/vkey" in capsys.readouterr().out
    body[0] = NoteSigner("evidence.enforcegw.example/log1", Ed25519PrivateKey.generate()).vkey.encode()
    assert main(["verify", str(bundle), "--vkey-url", f"{base}/api/public/vkey"]) == 1
    for url, why in [(f"{base}/elsewhere", "cannot fetch the published key"), ("ftp://x/vkey", "only http and https")]:
        assert main(["verify", str(bundle), "--vkey-url", url]) == 2
        assert why in capsys.readouterr().err


def test_no_key_from_outside_the_bundle_is_refused(setup: tuple[Path, Path, str], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _, bundle, _ = setup
    empty = tmp_path / "empty.yaml"
    empty.write_text(json.dumps({"data_dir": str(tmp_path / "nothing-here")}))
    assert main(["-c", str(empty), "verify", str(bundle)]) == 2
    assert "no verifier key from outside the bundle" in capsys.readouterr().err
    assert not (tmp_path / "nothing-here" / "keys").exists()  # verifying never creates a key


def test_a_path_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(tmp_path / "nope.zip"), "--vkey", "x"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path / 'nope.zip'}: no such file or directory\n"
