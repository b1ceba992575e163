"""`EvidenceLog`: the small API the rest of the gateway uses.

Synchronous by design: every call is a short PostgreSQL transaction plus hashing. From asyncio, use
`AsyncEvidenceLog`, which runs the same calls in worker threads (asyncio.to_thread), or call
`asyncio.to_thread(log.append, ...)` directly. The log takes a conninfo string (it then owns a small
psycopg_pool.ConnectionPool) or a ready psycopg_pool.ConnectionPool.

    log = EvidenceLog.open(conninfo, EvidenceConfig(...), data_dir)
    appended = log.append(Entry(...), media=[MediaInput("snapshot", "image/jpeg", jpeg_bytes)])
    log.checkpoint()                 # integrate + sign now (the sequencer loop also does it on schedule)
    proof = log.prove(appended.index)  # against the newest checkpoint that covers it
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
import structlog
from psycopg_pool import ConnectionPool

from evidence import sequencer
from evidence.config import EvidenceConfig
from evidence.entry import Entry, MediaRef
from evidence.media import FileMediaStore, MediaStore
from evidence.merkle import consistency_ranges, inclusion_ranges, nodes_for, range_hash
from evidence.sequencer import Appended, Checkpoint
from evidence.signer import NoteSigner, Timestamper, load_or_create_key, tlog_proof
from evidence.tree_store import TreeReader

_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class MediaInput:
    """An original to store with an entry: bytes, or a path to a file that is copied in."""

    role: str
    mime: str
    data: bytes | Path


@dataclass(frozen=True)
class InclusionProof:
    index: int
    size: int
    leaf_hash: bytes
    path: list[bytes]
    root: bytes
    checkpoint_note: str

    def tlog_proof(self) -> str:
        return tlog_proof(self.index, self.path, self.checkpoint_note)


class NotCheckpointed(LookupError):
    """The entry or size is not covered by a stored checkpoint (yet)."""


class EvidenceLog:
    def __init__(self, db: str | ConnectionPool, signer: NoteSigner, *, config: EvidenceConfig | None = None,
                 media: MediaStore | None = None, timestamper: Timestamper | None = None) -> None:
        self.config = config or EvidenceConfig(origin=signer.name)
        if signer.name != self.config.origin:
            raise ValueError("the signing key name must equal the log origin")
        self._own_pool = isinstance(db, str)
        self.pool = ConnectionPool(db, min_size=1, max_size=4, open=True) if isinstance(db, str) else db
        self.signer = signer
        self.media = media
        self.timestamper = timestamper

    @classmethod
    def open(cls, db: str | ConnectionPool, config: EvidenceConfig, data_dir: Path) -> EvidenceLog:
        """Load (or on first start generate) the key, open the media store under data_dir."""
        key = load_or_create_key(config.resolved_key_path(data_dir))
        media = FileMediaStore(config.resolved_media_dir(data_dir))
        return cls(db, NoteSigner(config.origin, key), config=config, media=media)

    def close(self) -> None:
        if self._own_pool:
            self.pool.close()

    def __enter__(self) -> EvidenceLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def vkey(self) -> str:
        """The verifier key in signed-note vkey format (what `enforcegw keys show` prints)."""
        return self.signer.vkey

    # ------------------------------------------------------------ writing

    def append(self, entry: Entry, media: Sequence[MediaInput] = ()) -> Appended:
        return self.append_many([(entry, media)])[0]

    def append_many(self, items: Sequence[Entry | tuple[Entry, Sequence[MediaInput]]]) -> list[Appended]:
        """Append several entries in one transaction (the fast path: ~1 round trip per batch)."""
        entries = []
        for item in items:
            entry, media = item if isinstance(item, tuple) else (item, ())
            entries.append(self.prepare(entry, media))
        with self.pool.connection() as conn:
            return sequencer.append_entries(conn, entries, self.config.origin)

    def append_with(self, conn: psycopg.Connection, items: Sequence[Entry | tuple[Entry, Sequence[MediaInput]]]
                    ) -> list[Appended]:
        """Append on the caller's connection, inside the caller's transaction (e.g. an alert row and its
        evidence entry commit together). The append lock is then held until that transaction ends."""
        entries = [self.prepare(*item) if isinstance(item, tuple) else self.prepare(item) for item in items]
        return sequencer.append_entries(conn, entries, self.config.origin)

    def prepare(self, entry: Entry, media: Sequence[MediaInput] = ()) -> Entry:
        """Store the originals (write-once, content-addressed) and return the entry with their MediaRefs."""
        if not media and not entry.media:
            return entry
        if self.media is None:
            raise ValueError("this log has no media store")
        refs = list(entry.media)
        for ref in refs:  # refs to media stored earlier must point at originals we hold
            if not self.media.exists(ref.sha256):
                raise ValueError(f"media {ref.sha256} is not in the media store")
        for m in media:
            stored = self.media.put_file(m.data) if isinstance(m.data, Path) else self.media.put(m.data)
            refs.append(MediaRef(role=m.role, mime=m.mime, size=stored.size, sha256=stored.sha256))
        return entry.model_copy(update={"media": refs})

    def integrate(self) -> tuple[int, bytes]:
        with self.pool.connection() as conn:
            return sequencer.integrate(conn, self.config.integrate_batch_max)

    def checkpoint(self) -> Checkpoint:
        """Integrate everything appended so far and sign a checkpoint for it (or return the newest one if
        nothing is new)."""
        self.integrate()
        with self.pool.connection() as conn:
            made = sequencer.sign_checkpoint(conn, self.signer, timestamper=self.timestamper)
            return made or sequencer.latest_checkpoint(conn)  # type: ignore[return-value]

    def sequence_once(self) -> Checkpoint | None:
        """One sequencer step: integrate, then sign if M entries are pending or N seconds have passed."""
        self.integrate()
        with self.pool.connection() as conn:
            return sequencer.sign_checkpoint(
                conn, self.signer, min_new=self.config.checkpoint_every_entries,
                min_age_s=self.config.checkpoint_interval_s, timestamper=self.timestamper)

    def run_sequencer(self, stop: threading.Event, poll_s: float = 0.25, *,
                      on_beat: Callable[[], object] | None = None, backoff_s: float = 2.0) -> None:
        """Run `sequence_once` every `poll_s` until `stop` is set (in a thread; any number of processes may run
        one at once). A step that fails (the store unreachable, a checkpoint the signer refuses) is logged and
        retried after `backoff_s`: an outage delays integration and signing, it never ends the loop.
        `on_beat` is called once per step, for a supervisor that watches the loop is alive."""
        while not stop.is_set():
            if on_beat is not None:
                on_beat()
            try:
                self.sequence_once()
            except Exception:
                _log.exception("evidence.sequencer_failed", retry_in_s=backoff_s)
                stop.wait(backoff_s)
            stop.wait(poll_s)

    # ------------------------------------------------------------ reading and proofs

    def latest_checkpoint(self) -> Checkpoint | None:
        with self.pool.connection() as conn:
            return sequencer.latest_checkpoint(conn)

    def checkpoints(self) -> list[Checkpoint]:
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT size, root, note, signed_at FROM evidence_checkpoints ORDER BY size")
            return [Checkpoint(r[0], bytes(r[1]), r[2], r[3]) for r in rows]

    def entry(self, index: int) -> bytes:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT entry FROM evidence_entries WHERE idx = %s", (index,)).fetchone()
        if row is None:
            raise LookupError(f"no entry {index}")
        return bytes(row[0])

    def _checkpoint_for(self, conn: psycopg.Connection, index: int, size: int | None) -> Checkpoint:
        cp = sequencer.latest_checkpoint(conn) if size is None else sequencer.get_checkpoint(conn, size)
        if cp is None:
            raise NotCheckpointed(f"no checkpoint of size {size}" if size is not None else "no checkpoint yet")
        if index >= cp.size:
            raise NotCheckpointed(f"entry {index} is not covered by checkpoint {cp.size} yet")
        return cp

    def prove(self, index: int, size: int | None = None) -> InclusionProof:
        """Inclusion proof of entry `index` in the tree of a *stored checkpoint* (`size`, default the
        newest): proof and root always come from the same snapshot. Read separately, the sequencer may grow the
        tree in between, giving a path for one size against the root of another, which never verifies."""
        with self.pool.connection() as conn:
            cp = self._checkpoint_for(conn, index, size)
            ranges = inclusion_ranges(index, cp.size)
            got = TreeReader(conn).fetch(nodes_for(ranges) | {(0, index)})  # one round trip for all
            path = [range_hash(s, e, lambda lv, p: got[(lv, p)]) for s, e in ranges]
            leaf = got[(0, index)]
        return InclusionProof(index, cp.size, leaf, path, cp.root, cp.note)

    def consistency(self, first: int, second: int) -> list[bytes]:
        """Consistency proof between two stored checkpoint sizes."""
        with self.pool.connection() as conn:
            for s in (first, second):
                if sequencer.get_checkpoint(conn, s) is None:
                    raise NotCheckpointed(f"{s} is not a checkpoint size")
            return TreeReader(conn).hashes(consistency_ranges(first, second)) if first != second else []


class AsyncEvidenceLog:
    """asyncio face of an EvidenceLog: the same calls, each in a worker thread."""

    def __init__(self, log: EvidenceLog) -> None:
        self.log = log

    async def append(self, entry: Entry, media: Sequence[MediaInput] = ()) -> Appended:
        return await asyncio.to_thread(self.log.append, entry, media)

    async def append_many(self, items: Sequence[Entry | tuple[Entry, Sequence[MediaInput]]]) -> list[Appended]:
        return await asyncio.to_thread(self.log.append_many, items)

    async def checkpoint(self) -> Checkpoint:
        return await asyncio.to_thread(self.log.checkpoint)

    async def prove(self, index: int, size: int | None = None) -> InclusionProof:
        return await asyncio.to_thread(self.log.prove, index, size)

