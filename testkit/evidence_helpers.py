"""Shared helpers for the evidence tests: a naive RFC 6962 reference and a log on a test database."""

from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg

from evidence.config import EvidenceConfig
from evidence.entry import Entry
from evidence.log import EvidenceLog

ORIGIN = "evidence.test.example/log1"
APPEND_ONLY = ("evidence_entries", "evidence_nodes", "evidence_tree_heads", "evidence_checkpoints")


def ref_mth(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 6962 2.1 writes it (recursive, over leaf inputs)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1 << ((n - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:])).digest()


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n <= 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return [*ref_path(m, leaves[:k]), ref_mth(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [ref_mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*ref_subproof(m, leaves[:k], b), ref_mth(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), ref_mth(leaves[:k])]


def make_log(db_url: str, data_dir: Path, **cfg: object) -> EvidenceLog:
    return EvidenceLog.open(db_url, EvidenceConfig(origin=ORIGIN, **cfg), data_dir)


def entry(device: str = "cam-1", **kw: object) -> Entry:
    return Entry(entry_type=kw.pop("entry_type", "evidence"), device_id=device, **kw)


def superuser(db_url: str, *statements: str | tuple[str, tuple]) -> None:
    """What a superuser could do: switch the append-only triggers off, run the statements (SQL, or SQL and its
    parameters), switch them back."""
    with psycopg.connect(db_url, autocommit=True) as c:
        for table in APPEND_ONLY:
            c.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for s in statements:
            sql, params = (s, ()) if isinstance(s, str) else s
            c.execute(sql, params)
        for table in APPEND_ONLY:
            c.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
