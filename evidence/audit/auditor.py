"""Full audit: re-hash every entry and media file, rebuild the tree, check every checkpoint and chain.

Trusts nothing stored except the verifier key(s): leaf hashes, tree nodes, roots and the copied columns
are all recomputed from the entry bytes and compared: an audit that only compared stored roots would miss an
entry edited together with its leaf hash and nodes. Memory is O(n) hashes (about 70 MB at 1M entries).
The per-chunk work (fetch, re-hash, chains inside a chunk) is in evidence.audit.native (the C accelerator's
confirm path) and evidence.audit.scan (the Python paths), the rebuilt tree in evidence.audit.tree; this module
schedules chunks, stitches chains across them and checks nodes, tree heads, checkpoints and media.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
import time
from array import array
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field

import psycopg
from tqdm import tqdm

from evidence.audit import native as accelerator
from evidence.audit.chunk import CHUNK_LEVEL, ChunkScan, Job, chain_finding
from evidence.audit.kept import KeptCheckpoint, check_kept
from evidence.audit.notes import NoteCheck, NoteChecks
from evidence.audit.scan import scan_chunk, worker_init, worker_scan
from evidence.audit.tree import RebuiltTree
from evidence.log import EvidenceLog
from evidence.media import MediaStore
from evidence.merkle import consistency_ranges, range_hash
from evidence.tree_store import STRIDE
from evidence.verify import VerificationError, verify_consistency


@dataclass(frozen=True)
class Finding:
    kind: str  # entry, chain, node, tree_head, checkpoint, consistency, kept_checkpoint, media
    item: str  # what is affected: "entry 17", "node (4, 2)", "checkpoint 300", "media <sha>"
    detail: str


@dataclass
class AuditReport:
    entries: int = 0
    media_files: int = 0
    checkpoints: int = 0
    devices: int = 0
    seconds: float = 0.0
    engine: str = "python"  # "native" where the C accelerator scanned (evidence.audit.native)
    chunks: dict[str, int] = field(default_factory=dict)  # chunks by the path that settled them
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, kind: str, item: str, detail: str) -> None:
        self.findings.append(Finding(kind, item, detail))


def audit(conn: psycopg.Connection, vkeys: list[str], origin: str, media: MediaStore | None = None, *,
          progress: bool = False, conninfo: str | None = None, workers: int = 1,
          chunk_level: int = CHUNK_LEVEL, native: bool = True, kept: Sequence[KeptCheckpoint] = ()) -> AuditReport:
    """Audit the log behind `conn`. With `conninfo` and workers > 1, chunks of 2^chunk_level entries are
    scanned by that many processes, this one included, each with its own connection (bench/evidence_bench.py).
    `kept`: checkpoints seen before and kept outside the log (an auditor's, a case system's); each must be a
    prefix of the log as it is now (evidence.audit.kept), which is what shows a rollback.
    `native=False` keeps to the pure-Python scan paths even where the C accelerator is built. Worker processes
    (and, for 2,000 checkpoints or more, the signature checks) are spawned: a script calling this needs the
    `if __name__ == "__main__":` guard."""
    t0 = time.perf_counter()
    report = AuditReport(engine="native" if native and accelerator.available() else "python")
    # Millions of small bytes objects would trigger repeated full GC passes that find nothing to free
    # (they hold no cycles): pausing the collector makes the audit several times faster.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    checkpoints = conn.execute("SELECT size, root, note FROM evidence_checkpoints ORDER BY size").fetchall()
    with NoteChecks([note for _, _, note in checkpoints], vkeys) as notes:  # in another process when many
        try:
            jobs = _jobs(conn, chunk_level, media is not None, native)
            tree, referenced = _entries(conn, report, progress, jobs, conninfo, workers, chunk_level)
        finally:
            if gc_was_enabled:
                gc.enable()
        _nodes(conn, report, tree)
        _tree_heads(conn, report, tree)
        _checkpoints(report, checkpoints, notes.result(), origin, tree)
    for f in check_kept(kept, vkeys, origin, tree, {size for size, _, _ in checkpoints}):
        report.add(*f)
    if media is not None:
        _media(media, report, referenced, progress)
    report.seconds = time.perf_counter() - t0
    return report


def audit_log(log: EvidenceLog, *, progress: bool = False, extra_vkeys: Sequence[str] = (), workers: int | None = None,
              chunk_level: int = CHUNK_LEVEL, native: bool = True, kept: Sequence[KeptCheckpoint] = ()) -> AuditReport:
    """`audit` of an open EvidenceLog: its key (and `extra_vkeys`, for checkpoints signed by earlier keys), its
    origin and media store; `workers` defaults to the log's `audit_workers`, else `default_workers`. The
    scanning processes connect with the log pool's conninfo."""
    workers = workers or log.config.audit_workers or default_workers(native)
    with log.pool.connection() as conn:
        return audit(conn, [log.vkey, *extra_vkeys], log.config.origin, log.media, progress=progress,
                     conninfo=log.pool.conninfo, workers=workers, chunk_level=chunk_level, native=native, kept=kept)


def default_workers(native: bool = True) -> int:
    """Scanning processes for this machine: one per CPU, or one per two CPUs with the C accelerator, whose
    client side is then about as busy as the PostgreSQL backend streaming to it (bench/evidence_bench.py)."""
    cpus = os.cpu_count() or 1
    return max(1, cpus // 2) if native and accelerator.available() else cpus


def _jobs(conn: psycopg.Connection, chunk_level: int, want_media: bool, native: bool) -> list[Job]:
    total = conn.execute("SELECT coalesce(max(idx), -1) + 1 FROM evidence_entries").fetchone()[0]
    span = 1 << chunk_level
    return [(s, min(s + span, total), want_media, native) for s in range(0, total, span)]


def _scans(conn: psycopg.Connection, jobs: list[Job], conninfo: str | None, workers: int) -> Iterator[ChunkScan]:
    """Chunk scans in log order. With workers > 1, workers - 1 spawned processes take jobs from the front
    while this process scans from the back: it works from the first moment instead of idling while the
    interpreters start (~0.2 s, a tenth of a 1M-entry audit on two cores)."""
    with conn.cursor(binary=True) as cur:
        if conninfo is None or workers <= 1 or len(jobs) <= 1:
            for job in jobs:
                yield scan_chunk(cur, *job)
            return
        procs = min(workers - 1, len(jobs) - 1)
        results: dict[int, ChunkScan] = {}
        pending: deque[tuple[int, Future[ChunkScan]]] = deque()
        front, back, emitted = 0, len(jobs), 0
        # spawn, not fork: the caller may hold pool threads and open connections that a fork would copy.
        with ProcessPoolExecutor(procs, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=worker_init, initargs=(conninfo,)) as pool:
            while emitted < len(jobs):
                while front < back and len(pending) < 2 * procs:  # one running and one queued per process
                    pending.append((front, pool.submit(worker_scan, jobs[front])))
                    front += 1
                if front < back:
                    back -= 1
                    results[back] = scan_chunk(cur, *jobs[back])
                while pending and (pending[0][1].done() or front >= back):
                    i, future = pending.popleft()
                    results[i] = future.result()
                while emitted in results:
                    yield results.pop(emitted)
                    emitted += 1


def _entries(conn: psycopg.Connection, report: AuditReport, progress: bool, jobs: list[Job],
             conninfo: str | None, workers: int, chunk_level: int) -> tuple[RebuiltTree, set[str]]:
    total = jobs[-1][1] if jobs else 0
    tree = RebuiltTree(chunk_level)
    referenced: set[str] = set()
    heads: dict[str, tuple[int, bytes]] = {}
    with tqdm(total=total, disable=not progress, desc="entries", unit="entry", unit_scale=True) as bar:
        for (start, end, *_), scan in zip(jobs, _scans(conn, jobs, conninfo, workers), strict=False):
            report.findings.extend(Finding(*f) for f in scan.findings)
            # Stitch each device chain across the chunk boundary, in log order.
            for device, ends in sorted(scan.ends.items(), key=lambda kv: kv[1].first_idx):
                problem = chain_finding(device, ends.first_seq, ends.first_prev, heads.get(device))
                if problem:
                    report.add("chain", f"entry {ends.first_idx}", problem)
                heads[device] = (ends.last_seq, ends.last_leaf)
            tree.add(scan, end - start)
            report.chunks[scan.path] = report.chunks.get(scan.path, 0) + 1
            referenced |= scan.media
            report.entries += scan.entries
            bar.update(end - start)
    tree.finish()
    report.findings.sort(key=_finding_order)
    report.devices = len(heads)
    return tree, referenced


def _finding_order(f: Finding) -> tuple[int, int]:
    kind, _, num = f.item.partition(" ")
    return (0 if kind == "entry" else 1, int(num) if num.isdigit() else 0)


def _nodes(conn: psycopg.Connection, report: AuditReport, tree: RebuiltTree) -> None:
    """Stored subtree hashes against the rebuilt ones: one bulk comparison per stored level, and a walk node by
    node only through a level that differs, to name each finding (a missing node by its position and the hash
    it should hold)."""
    head = conn.execute("SELECT coalesce(max(size), 0) FROM evidence_tree_heads").fetchone()[0]
    seen: dict[int, int] = {}
    walked: set[int] = set()
    for (level,) in conn.execute("SELECT DISTINCT level FROM evidence_nodes ORDER BY level").fetchall():
        positions, hashes, seen[level] = conn.execute(
            "SELECT string_agg(int8send(pos), ''), string_agg(hash, ''), count(*) FROM (SELECT pos, hash "
            "FROM evidence_nodes WHERE level = %s ORDER BY pos) s", (level,)).fetchone()
        if _int8s(positions) != array("q", range(seen[level])) or hashes != tree.level(level)[:len(hashes)] or len(
                hashes) != 32 * seen[level] or seen[level] > tree.size >> level:
            _walk_level(conn, report, tree, level, head >> level)
            walked.add(level)
    level = STRIDE
    while head >> level:
        if level not in walked:  # the stored nodes are the rebuilt ones from the start: any after them are missing
            for pos in range(seen.get(level, 0), head >> level):
                _missing_node(report, tree, level, pos, head >> level)
        level += STRIDE
    for level, n in seen.items():
        if n > head >> level:  # nodes are stored in the transaction that stores the tree head reaching them
            report.add("node", f"node ({level}, {head >> level})", f"{n - (head >> level)} nodes from this one on "
                       f"are stored beyond the newest tree head ({head}): a tree head is missing")


def _missing_node(report: AuditReport, tree: RebuiltTree, level: int, pos: int, expected: int) -> None:
    first, last = pos << level, ((pos + 1) << level) - 1
    try:
        want = f"expected hash {tree.node(level, pos).hex()}"
    except IndexError:
        want = f"and so are entries of {first}..{last}: no expected hash"
    report.add("node", f"node ({level}, {pos})",
               f"missing (level {level} should hold {expected} nodes for the integrated tree), {want} "
               f"of leaves {first}..{last}")


def _int8s(raw: bytes) -> array:
    """The values of a string_agg(int8send(...)): big-endian int64s."""
    values = array("q")
    values.frombytes(raw)
    if sys.byteorder == "little":
        values.byteswap()
    return values


def _tree_heads(conn: psycopg.Connection, report: AuditReport, tree: RebuiltTree) -> None:
    """Every stored tree head against the rebuilt root at its size: all at once (a gateway stores up to one head
    per entry), then row by row only if they differ, to name each finding."""
    sizes, roots = conn.execute("SELECT string_agg(int8send(size), ''), string_agg(root, '') FROM "
                                "(SELECT size, root FROM evidence_tree_heads ORDER BY size) s").fetchone()
    if sizes is None:
        return
    packed = _int8s(sizes)
    if roots == tree.roots(packed) and (not packed or packed[-1] <= tree.size):
        return
    for size, root in conn.execute("SELECT size, root FROM evidence_tree_heads ORDER BY size"):
        if size > tree.size:
            report.add("tree_head", f"tree head {size}", _beyond(size, tree.size))
        elif tree.roots([size]) != root:
            report.add("tree_head", f"tree head {size}", "root differs from the tree rebuilt from the entries")


def _walk_level(conn: psycopg.Connection, report: AuditReport, tree: RebuiltTree, level: int, expected: int) -> None:
    stored: set[int] = set()
    for pos, h in conn.execute("SELECT pos, hash FROM evidence_nodes WHERE level = %s ORDER BY pos", (level,)):
        stored.add(pos)
        try:
            rebuilt = tree.node(level, pos)
        except IndexError:
            report.add("node", f"node ({level}, {pos})", "stored for leaves that do not exist")
            continue
        if rebuilt != bytes(h):
            first = pos << level
            report.add("node", f"node ({level}, {pos})",
                       f"hash differs from leaves {first}..{first + (1 << level) - 1} rebuilt from the entries")
    for pos in range(expected):
        if pos not in stored:
            _missing_node(report, tree, level, pos, expected)


def _checkpoints(report: AuditReport, rows: list[tuple[int, bytes, str]], checks: list[NoteCheck], origin: str,
                 tree: RebuiltTree) -> None:
    rebuilt_roots = tree.roots([r[0] for r in rows])
    prev: tuple[int, bytes, bool] | None = None  # size, signed root, whether that root is the rebuilt one
    for i, ((size, root, _), check) in enumerate(zip(rows, checks, strict=True)):
        report.checkpoints += 1
        item = f"checkpoint {size}"
        if isinstance(check, str):
            report.add("checkpoint", item, f"signature or format: {check}")
            continue
        cp_origin, cp_size, cp_root = check
        rebuilt = rebuilt_roots[32 * i:32 * i + 32]
        if (cp_origin, cp_size, cp_root) != (origin, size, bytes(root)):
            report.add("checkpoint", item, "signed note differs from the stored size/root or origin")
            continue
        if size > tree.size:
            report.add("checkpoint", item, _beyond(size, tree.size))
        elif rebuilt != cp_root:
            report.add("checkpoint", item, "signed root differs from the tree rebuilt from the entries")
        elif prev is not None and prev[0] > 0 and not prev[2]:
            # Only after a checkpoint whose root was not the rebuilt one: between two roots of the same leaves
            # the proof verifies by construction (RFC 6962), so it would cost ~60 us and could never fail.
            try:
                proof = [range_hash(s, e, tree.node) for s, e in consistency_ranges(prev[0], size)
                         ] if size > prev[0] else []
                verify_consistency(prev[0], size, prev[1], cp_root, proof)
            except VerificationError as exc:
                report.add("consistency", item, f"not consistent with checkpoint {prev[0]}: {exc.reason}")
        prev = (size, cp_root, rebuilt == cp_root)


def _beyond(size: int, held: int) -> str:
    return (f"covers {size} entries, the log holds {held}: entries {held}..{size - 1} are missing "
            "(deleted, or the log was rolled back)")


def _media(media: MediaStore, report: AuditReport, referenced: Iterable[str], progress: bool) -> None:
    present = set()
    for sha in tqdm(list(media), disable=not progress, desc="media", unit="file"):
        present.add(sha)
        report.media_files += 1
        finding = media.audit(sha)
        if finding is not None:
            report.add("media", f"media {sha}", finding.problem)
    for sha in sorted(set(referenced) - present):
        report.add("media", f"media {sha}", "referenced by an entry but missing from the media store")
