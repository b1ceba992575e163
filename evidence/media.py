"""Content-addressed, write-once media store: an original is stored under the SHA-256 of its bytes.

`MediaStore` is the interface; `FileMediaStore` keeps files under a root directory. An S3-compatible
store can implement the same Protocol later (key = hex digest, If-None-Match: * for write-once).
Media may be lawfully deleted without breaking the log: leaves commit to the originals' hashes, not to their bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

_CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredMedia:
    sha256: str
    size: int


@dataclass(frozen=True)
class MediaFinding:
    sha256: str
    problem: str  # "content does not match its name", "missing", ...


@runtime_checkable
class MediaStore(Protocol):
    def put(self, data: bytes) -> StoredMedia: ...
    def put_file(self, path: str | Path) -> StoredMedia: ...
    def open(self, sha256: str) -> BinaryIO: ...
    def exists(self, sha256: str) -> bool: ...
    def __iter__(self) -> Iterator[str]: ...
    def audit(self, sha256: str) -> MediaFinding | None: ...


class FileMediaStore:
    """Files at ROOT/ab/cd/<64 hex>. Writes go to a temp file then are linked into place, so a reader never
    sees half a file and two writers of the same content cannot clobber each other."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> StoredMedia:
        digest = hashlib.sha256(data).hexdigest()
        self._install(digest, lambda f: f.write(data))
        return StoredMedia(digest, len(data))

    def put_file(self, path: str | Path) -> StoredMedia:
        h, size = hashlib.sha256(), 0
        with open(path, "rb") as src:
            while chunk := src.read(_CHUNK):
                h.update(chunk)
                size += len(chunk)
        digest = h.hexdigest()

        def copy(f: BinaryIO) -> None:
            with open(path, "rb") as src:
                while chunk := src.read(_CHUNK):
                    f.write(chunk)

        self._install(digest, copy)
        return StoredMedia(digest, size)

    def _install(self, digest: str, write: Callable[[BinaryIO], object]) -> None:
        final = self.path(digest)
        if final.exists():
            return  # write-once: the same content is already there (audit checks it is intact)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o444)
            # Fails if another writer won the race: theirs has the same bytes.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, final)
        finally:
            os.unlink(tmp)

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path(sha256), "rb")

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def __iter__(self) -> Iterator[str]:
        for p in sorted(self.root.glob("??/??/*")):
            if not p.name.startswith("."):
                yield p.name

    def audit(self, sha256: str) -> MediaFinding | None:
        """Re-hash one file; a finding if it is missing or its bytes no longer match its name."""
        try:
            f = self.open(sha256)
        except (FileNotFoundError, ValueError):
            return MediaFinding(sha256, "missing")
        h = hashlib.sha256()
        with f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
        if h.hexdigest() != sha256:
            return MediaFinding(sha256, f"content does not match its name (now {h.hexdigest()})")
        return None
