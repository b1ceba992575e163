"""The log's Ed25519 key and C2SP signed notes (signed-note v1, type 0x01; tlog-checkpoint bodies).

The key is a raw 32-byte seed in a file of mode 0600, generated on first start. Two processes starting at
once cannot end up with different keys: the seed is written to a temp file and hard-linked into place,
and whoever loses the link race loads the winner's key.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import tempfile
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from evidence.verify import ED25519_TYPE, key_id


def load_or_create_key(path: str | Path) -> Ed25519PrivateKey:
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".newkey-")
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, os.urandom(32))
            os.fsync(fd)
            os.close(fd)
            with contextlib.suppress(FileExistsError):  # another process created it first: use theirs
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    if path.stat().st_mode & 0o077:
        raise PermissionError(f"{path} is readable by group or others; chmod 600 it")
    seed = path.read_bytes()
    if len(seed) != 32:
        raise ValueError(f"{path}: expected a 32-byte Ed25519 seed, found {len(seed)} bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


class NoteSigner:
    """Signs note texts with one Ed25519 key whose name is the log origin."""

    def __init__(self, name: str, key: Ed25519PrivateKey) -> None:
        if not name or " " in name or "+" in name:
            raise ValueError(f"invalid key name {name!r}")
        self.name = name
        self._key = key
        self.public_key = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = key_id(name, ED25519_TYPE, self.public_key)

    @property
    def vkey(self) -> str:
        """Verifier key text: <name>+<hex key id>+base64(0x01 || public key)."""
        blob = base64.b64encode(bytes([ED25519_TYPE]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    def derive_key(self, purpose: str) -> bytes:
        """A 32-byte key for another purpose (e.g. signing evidence links), derived from this key's seed so no
        second secret has to be kept; one purpose's key reveals nothing of the seed or of another's."""
        seed = self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return hmac.new(seed, b"enforcegw derived key\n" + purpose.encode(), hashlib.sha256).digest()

    def sign(self, text: str) -> str:
        if not text.endswith("\n") or "\n\n" in text:
            raise ValueError("note text must end in a newline and contain no blank line")
        sig = base64.b64encode(self.key_id + self._key.sign(text.encode())).decode()
        return f"{text}\n\u2014 {self.name} {sig}\n"


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    """C2SP tlog-checkpoint: origin, decimal size, base64 root; no extension lines (not auditable)."""
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def tlog_proof(index: int, path: list[bytes], signed_checkpoint: str) -> str:
    """c2sp.org/tlog-proof@v1: a self-contained receipt for one entry."""
    lines = ["c2sp.org/tlog-proof@v1", f"index {index}", *(base64.b64encode(h).decode() for h in path)]
    return "\n".join(lines) + "\n\n" + signed_checkpoint


class Timestamper(Protocol):
    """An RFC 3161 TSA client: returns a DER TimeStampToken over `data` (the checkpoint note text).
    None is configured yet; `evidence_checkpoints.tsa_token` waits for it."""

    def timestamp(self, data: bytes) -> bytes: ...
