"""Append, integrate, checkpoint: the write side of the log, as functions over one psycopg connection.

Two advisory locks, two roles:
- APPEND_LOCK serialises index and device-sequence allocation. It is held only for one append
  transaction, and released at commit, so committed indexes are always gap-free (a rolled-back append
  consumes nothing, unlike a SQL sequence).
- SEQUENCER_LOCK makes one integrator at a time extend the tree and sign checkpoints, so any number of
  gateway processes can call `integrate`/`sign_checkpoint` and still produce one consistent log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from evidence import entry as entry_mod
from evidence.merkle import consistency_ranges
from evidence.signer import NoteSigner, Timestamper, checkpoint_body
from evidence.tree_store import TreeReader, new_nodes
from evidence.verify import VerificationError, leaf_hash, parse_checkpoint, verify_consistency, verify_note

APPEND_LOCK = 0x6576_6964_0001  # "evid" 1
SEQUENCER_LOCK = 0x6576_6964_0002


@dataclass(frozen=True)
class Appended:
    index: int
    leaf_hash: bytes
    device_seq: int

    def __iter__(self) -> Iterator[int | bytes]:
        """Unpacks as `index, leaf_hash = log.append(...)`."""
        return iter((self.index, self.leaf_hash))


@dataclass(frozen=True)
class Checkpoint:
    size: int
    root: bytes
    note: str
    signed_at: datetime


def append_entries(conn: psycopg.Connection, entries: Sequence[entry_mod.Entry], origin: str) -> list[Appended]:
    """Encode and insert entries in one transaction; indexes and per-device links are allocated inside it."""
    if not entries:
        return []
    received = datetime.now(UTC)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))
        nxt = conn.execute("SELECT coalesce(max(idx) + 1, 0) FROM evidence_entries").fetchone()[0]
        devices = sorted({e.device_id for e in entries})
        heads = {
            d: (seq, bytes(h) if h is not None else None)
            for d, seq, h in conn.execute(
                "SELECT d, e.device_seq, e.leaf_hash FROM unnest(%s::text[]) AS d LEFT JOIN LATERAL ("
                " SELECT device_seq, leaf_hash FROM evidence_entries WHERE device_id = d"
                " ORDER BY device_seq DESC LIMIT 1) e ON true",
                (devices,),
            )
        }
        out: list[Appended] = []
        with conn.cursor().copy(
            "COPY evidence_entries (idx, leaf_hash, entry, device_id, device_seq, entry_type) FROM STDIN"
        ) as copy:
            for e in entries:
                if any(not 0 <= r < nxt for r in e.refs):
                    raise ValueError(f"refs {e.refs} must name earlier entries (this one gets index {nxt})")
                last_seq, prev = heads[e.device_id]
                seq = 0 if last_seq is None else last_seq + 1
                data = entry_mod.encode(e, origin=origin, device_seq=seq, device_prev_hash=prev, received_at=received)
                lh = leaf_hash(data)
                copy.write_row((nxt, lh, data, e.device_id, seq, e.entry_type))
                heads[e.device_id] = (seq, lh)
                out.append(Appended(nxt, lh, seq))
                nxt += 1
    return out


def tree_head(conn: psycopg.Connection) -> tuple[int, bytes | None]:
    row = conn.execute("SELECT size, root FROM evidence_tree_heads ORDER BY size DESC LIMIT 1").fetchone()
    return (row[0], bytes(row[1])) if row else (0, None)


def integrate(conn: psycopg.Connection, batch_max: int = 4096,
              on_batch: Callable[[int], object] | None = None) -> tuple[int, bytes]:
    """Integrate every committed entry not yet in the tree, in batches of `batch_max` (one transaction
    each); return (size, root). `on_batch(size)` reports progress."""
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SEQUENCER_LOCK,))
            size, root = tree_head(conn)
            rows = conn.execute(
                "SELECT idx, leaf_hash FROM evidence_entries WHERE idx >= %s ORDER BY idx LIMIT %s",
                (size, batch_max),
            ).fetchall()
            leaves = []
            for idx, lh in rows:
                if idx != size + len(leaves):
                    break  # cannot happen with APPEND_LOCK; never integrate across a hole
                leaves.append(bytes(lh))
            if not leaves:
                if root is None:
                    return 0, TreeReader(conn).root(0)
                return size, root
            nodes = new_nodes(conn, size, leaves)
            if nodes:
                with conn.cursor().copy("COPY evidence_nodes (level, pos, hash) FROM STDIN") as copy:
                    for n in nodes:
                        copy.write_row(n)
            new_size = size + len(leaves)
            new_root = TreeReader(conn).root(new_size)
            conn.execute("INSERT INTO evidence_tree_heads (size, root) VALUES (%s, %s)", (new_size, new_root))
        if on_batch is not None:
            on_batch(new_size)
        if len(leaves) < batch_max:
            return new_size, new_root


def _row_checkpoint(row: tuple) -> Checkpoint:
    return Checkpoint(row[0], bytes(row[1]), row[2], row[3])


def latest_checkpoint(conn: psycopg.Connection) -> Checkpoint | None:
    row = conn.execute(
        "SELECT size, root, note, signed_at FROM evidence_checkpoints ORDER BY size DESC LIMIT 1"
    ).fetchone()
    return _row_checkpoint(row) if row else None


def get_checkpoint(conn: psycopg.Connection, size: int) -> Checkpoint | None:
    row = conn.execute(
        "SELECT size, root, note, signed_at FROM evidence_checkpoints WHERE size = %s", (size,)
    ).fetchone()
    return _row_checkpoint(row) if row else None


def sign_checkpoint(conn: psycopg.Connection, signer: NoteSigner, *, min_new: int = 1,
                    min_age_s: float | None = None, timestamper: Timestamper | None = None) -> Checkpoint | None:
    """Sign the integrated tree head if it is due: at least `min_new` new entries, or any new entry and the
    previous checkpoint older than `min_age_s`. Refuses (VerificationError) unless the previous checkpoint
    verifies under our key and is consistent with the new head: the log never signs a fork."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SEQUENCER_LOCK,))
        size, root = tree_head(conn)
        prev = latest_checkpoint(conn)
        if root is None:
            size, root = 0, TreeReader(conn).root(0)
        if prev is not None:
            new = size - prev.size
            age = (datetime.now(UTC) - prev.signed_at).total_seconds()
            if new <= 0 or (new < min_new and (min_age_s is None or age < min_age_s)):
                return None
            check_previous(conn, signer, prev, size, root)
        note = signer.sign(checkpoint_body(signer.name, size, root))
        conn.execute(
            "INSERT INTO evidence_checkpoints (size, root, note, key_id) VALUES (%s, %s, %s, %s)",
            (size, root, note, signer.key_id),
        )
        if timestamper is not None:
            token = timestamper.timestamp(note.encode())
            conn.execute(
                "INSERT INTO evidence_timestamps (checkpoint_size, tsa, token) VALUES (%s, %s, %s)",
                (size, type(timestamper).__name__, token),
            )
        return get_checkpoint(conn, size)


def check_previous(conn: psycopg.Connection, signer: NoteSigner, prev: Checkpoint, size: int, root: bytes) -> None:
    origin, prev_size, prev_root, _ = parse_checkpoint(verify_note(prev.note, [signer.vkey]))
    if origin != signer.name or prev_size != prev.size or prev_root != prev.root:
        raise VerificationError(f"checkpoint {prev.size}", "stored columns differ from the signed note")
    if prev.size == 0:
        return
    proof = TreeReader(conn).hashes(consistency_ranges(prev.size, size)) if size > prev.size else []
    verify_consistency(prev.size, size, prev_root, root, proof)
