"""Evidence log benchmark: prints a table of figures and their ratio to the raw limit measured in this run.

    python bench/evidence_bench.py [--entries 1000000] [--database-url URL]

Creates (and drops) its own database on the server of --database-url (default
$ENFORCEGW_TEST_DATABASE_URL). Measures: raw SHA-256 over entry-sized inputs; batched append throughput
(steady state, with the sequencer integrating and checkpointing alongside); inclusion proof latency and a
full audit at --entries, on a log built through the bulk path (COPY of canonical entries, then batch
integration by the normal sequencer).
Goals: append >= 2,000/s; proof p99 <= 5 ms at 1M; audit <= 3x raw hashing of the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import rfc8785
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from evidence.audit import native as accelerator
from evidence.audit.auditor import audit_log, default_workers
from evidence.audit.native import COPY_COLUMNS
from evidence.config import EvidenceConfig
from evidence.entry import Entry, MediaRef, Position, encode
from evidence.log import EvidenceLog
from evidence.sequencer import integrate
from evidence.signer import NoteSigner, checkpoint_body
from evidence.verify import verify_inclusion
from gateway.store.migrate import apply_migrations

ORIGIN = "bench.enforcegw.example/log1"
DEVICES = 1000
TABLES = ("evidence_entries", "evidence_nodes", "evidence_tree_heads", "evidence_checkpoints", "evidence_timestamps",
          "evidence_cosignatures")


def sample_entry(i: int) -> Entry:
    return Entry(
        entry_type="evidence", device_id=f"cam-{i % DEVICES:04d}", capture_time=datetime.now(UTC),
        time_source="gnss", position=Position(lat=23.0 + i % 1000 / 1e4, lon=113.1, datum="WGS84", alt_m=12.5),
        pose={"yaw": 12.5, "pitch": -30.0, "roll": 0.1}, readings={"LAeq": 72.4, "PM10": 118},
        media=[MediaRef(role="snapshot", mime="image/jpeg", size=123456, sha256=hashlib.sha256(b"%d" % i).hexdigest())],
        calibration_cert_id="JJG-188-2026-0001", payload={"rule": "night-noise", "zone": "Z-17"},
    )


def bulk_template() -> bytes:
    """Canonical bytes of a typical entry with %-placeholders where bulk entries differ. The values put there
    (decimal ints, [0-9a-f] hex, simple ASCII) are already canonical, so each result is valid RFC 8785."""
    e = sample_entry(0).model_copy(update={"device_id": "DEVICEID"})
    raw = encode(e, origin=ORIGIN, device_seq=987654321, device_prev_hash=b"\xee" * 32)
    doc = json.loads(raw)
    doc["media"][0]["sha256"] = "f" * 64
    raw = rfc8785.dumps(doc).replace(b"%", b"%%")
    raw = raw.replace(b'"DEVICEID"', b'"%(dev)s"').replace(b"987654321", b"%(seq)d")
    raw = raw.replace(b'"' + b"ee" * 32 + b'"', b"%(prev)s").replace(b"f" * 64, b"%(media)s")
    return raw


def bulk_build(url: str, n: int) -> list[bytes]:
    """COPY n canonical entries (gap-free per-device chains) and integrate them with the sequencer."""
    tmpl = bulk_template()
    heads: dict[str, bytes | None] = {}
    seqs: dict[str, int] = {}
    entries: list[bytes] = []
    with psycopg.connect(url) as conn:
        with conn.cursor().copy("COPY evidence_entries (idx, leaf_hash, entry, device_id, device_seq, entry_type) "
                                "FROM STDIN") as copy:
            for i in tqdm(range(n), desc="bulk COPY", unit="entry", unit_scale=True):
                dev = f"cam-{i % DEVICES:04d}"
                seq = seqs.get(dev, -1) + 1
                prev = heads.get(dev)
                media = hashlib.sha256(b"%d" % i).hexdigest().encode()
                prev_json = b'"' + prev.hex().encode() + b'"' if prev else b"null"
                data = tmpl % {b"dev": dev.encode(), b"seq": seq, b"media": media, b"prev": prev_json}
                lh = hashlib.sha256(b"\x00" + data).digest()
                copy.write_row((i, lh, data, dev, seq, "evidence"))
                heads[dev], seqs[dev] = lh, seq
                entries.append(data)
        conn.commit()
    assert rfc8785.dumps(json.loads(entries[-1])) == entries[-1], "bulk template is not canonical"
    return entries


def history(url: str, entries: list[bytes], signer: NoteSigner, per_head: int, per_checkpoint: int) -> tuple[int, int]:
    """Give the bulk log the tree heads and signed checkpoints a gateway would have stored over its life: a head
    per sequencer batch (every `per_head` entries) and a checkpoint every `per_checkpoint`. Roots come from a
    compact range kept here, independently of the audit's code; sizes the bulk integration stored are kept."""
    stack: list[tuple[int, bytes]] = []  # (height, hash) of the perfect subtrees covering the leaves so far
    heads, notes = [], []
    for i, data in enumerate(tqdm(entries, desc="history", unit="entry", unit_scale=True), 1):
        height, node = 0, hashlib.sha256(b"\x00" + data).digest()
        while stack and stack[-1][0] == height:
            node = hashlib.sha256(b"\x01" + stack.pop()[1] + node).digest()
            height += 1
        stack.append((height, node))
        if i % per_head == 0 or i % per_checkpoint == 0:
            root = stack[-1][1]
            for _, left in reversed(stack[:-1]):
                root = hashlib.sha256(b"\x01" + left + root).digest()
            if i % per_head == 0:
                heads.append((i, root))
            if i % per_checkpoint == 0:
                notes.append((i, root, signer.sign(checkpoint_body(signer.name, i, root)), signer.key_id))
    with psycopg.connect(url) as conn:
        have = {r[0] for r in conn.execute("SELECT size FROM evidence_tree_heads")}
        signed = {r[0] for r in conn.execute("SELECT size FROM evidence_checkpoints")}
        with conn.cursor().copy("COPY evidence_tree_heads (size, root) FROM STDIN") as copy:
            for h in heads:
                if h[0] not in have:
                    copy.write_row(h)
        with conn.cursor().copy("COPY evidence_checkpoints (size, root, note, key_id) FROM STDIN") as copy:
            for cp in notes:
                if cp[0] not in signed:
                    copy.write_row(cp)
        heads_n = conn.execute("SELECT count(*) FROM evidence_tree_heads").fetchone()[0]
        cps_n = conn.execute("SELECT count(*) FROM evidence_checkpoints").fetchone()[0]
    return heads_n, cps_n


def _with_db(url: str, name: str) -> str:
    p = conninfo_to_dict(url)
    p["dbname"] = name
    return make_conninfo(**p)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=1_000_000, help="Log size for the proof and audit figures.")
    ap.add_argument("--database-url", default=os.environ.get("ENFORCEGW_TEST_DATABASE_URL", ""),
                    help="Server to use (a database is created and dropped). Default $ENFORCEGW_TEST_DATABASE_URL.")
    ap.add_argument("--append-seconds", type=float, default=15.0, help="Duration of the append measurement.")
    ap.add_argument("--entries-per-head", type=int, default=25,
                    help="Tree heads in the audited log: one per sequencer batch of this many entries (25: a gateway "
                    "appending 100 entries/s, its sequencer polling every 0.25 s).")
    ap.add_argument("--entries-per-checkpoint", type=int, default=1000,
                    help="Signed checkpoints in the audited log: one per this many entries (the default "
                    "evidence.checkpoint_every_entries).")
    args = ap.parse_args()
    if not args.database_url:
        ap.error("give --database-url or set ENFORCEGW_TEST_DATABASE_URL")
    name = f"enforcegw_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.database_url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    rows: list[tuple[str, str, str]] = []
    try:
        url = _with_db(args.database_url, name)
        apply_migrations(url, allow_timescale=False)
        run(url, args, rows)
    finally:
        with psycopg.connect(args.database_url, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    table = Table("measure", "value", "vs limit / goal", title=f"evidence log benchmark ({args.entries:,} entries)")
    for r in rows:
        table.add_row(*r)
    Console(width=120).print(table)
    return 0


def run(url: str, args: argparse.Namespace, rows: list[tuple[str, str, str]]) -> None:
    sample = encode(sample_entry(1), origin=ORIGIN, device_seq=123456, device_prev_hash=b"\xab" * 32)
    k = 200_000
    t = time.perf_counter()
    for _ in range(k):
        hashlib.sha256(sample).digest()
    raw_rate = k / (time.perf_counter() - t)
    rows.append(("raw sha256, entry-sized input", f"{raw_rate:,.0f} /s ({len(sample)} B)", "limit"))

    tmp = Path(tempfile.mkdtemp(prefix="evbench-"))
    cfg = EvidenceConfig(origin=ORIGIN, checkpoint_every_entries=5000, checkpoint_interval_s=1.0)
    with EvidenceLog.open(url, cfg, tmp) as log:
        # Steady-state append: batches of 256 (the Tessera default), a sequencer thread integrating and
        # signing alongside, as in the gateway.
        stop = threading.Event()
        seq_thread = threading.Thread(target=log.run_sequencer, args=(stop, 0.1))
        seq_thread.start()
        entries = [sample_entry(i) for i in range(256)]
        for i in range(256):
            log.media.put(b"%d" % i)  # the originals the sample entries reference
        log.append_many(entries)  # warm-up
        n, t = 0, time.perf_counter()
        while time.perf_counter() - t < args.append_seconds:
            log.append_many(entries)
            n += len(entries)
        rate = n / (time.perf_counter() - t)
        stop.set()
        seq_thread.join()
        cp = log.checkpoint()
        rows.append(("append, batched 256, with sequencer", f"{rate:,.0f} entries/s",
                     f"{rate / 2000:.1f}x goal 2,000/s"))
        rows.append(("  entries appended in that run", f"{cp.size:,}", f"{len(log.checkpoints())} checkpoints"))
        with psycopg.connect(url, autocommit=True) as c:  # start the bulk log from scratch
            for tbl in TABLES:
                c.execute(f"ALTER TABLE {tbl} DISABLE TRIGGER USER")
            c.execute(f"TRUNCATE {', '.join(TABLES)}")
            for tbl in TABLES:
                c.execute(f"ALTER TABLE {tbl} ENABLE TRIGGER USER")

    cfg = cfg.model_copy(update={"integrate_batch_max": 65536})
    with EvidenceLog.open(url, cfg, tmp) as log:
        t = time.perf_counter()
        data = bulk_build(url, args.entries)
        t_copy = time.perf_counter() - t
        t = time.perf_counter()
        with tqdm(total=args.entries, desc="integrate", unit="entry", unit_scale=True) as bar, \
                log.pool.connection() as conn:
            integrate(conn, 65536, on_batch=lambda size: bar.update(size - bar.n))
        cp = log.checkpoint()
        t_int = time.perf_counter() - t
        rows.append(("bulk build: COPY of canonical entries", f"{t_copy:,.1f} s", f"{args.entries / t_copy:,.0f}/s"))
        rows.append(("bulk build: integrate + checkpoint", f"{t_int:,.1f} s", f"{args.entries / t_int:,.0f}/s"))
        heads, cps = history(url, data, log.signer, args.entries_per_head, args.entries_per_checkpoint)
        rows.append(("  the log's history: tree heads, signed checkpoints", f"{heads:,}, {cps:,}",
                     f"one per {args.entries_per_head}, {args.entries_per_checkpoint} entries"))
        with psycopg.connect(url, autocommit=True) as c:
            c.execute("VACUUM ANALYZE evidence_entries")
            c.execute("VACUUM ANALYZE evidence_nodes")

        lat = []
        for i in random.Random(1).sample(range(cp.size), 2000):
            t = time.perf_counter()
            p = log.prove(i)
            lat.append((time.perf_counter() - t) * 1000)
            if len(lat) <= 50:
                verify_inclusion(i, p.size, p.leaf_hash, p.path, cp.root)
        lat.sort()
        p50, p99 = statistics.median(lat), lat[int(len(lat) * 0.99)]
        rows.append((f"inclusion proof at {cp.size:,}: p50", f"{p50:.2f} ms", ""))
        verdict = "met" if p99 <= 5 else "MISSED"
        rows.append((f"inclusion proof at {cp.size:,}: p99", f"{p99:.2f} ms", f"goal <= 5 ms: {verdict}"))

        t = time.perf_counter()
        for d in data:
            hashlib.sha256(d).digest()
        raw = time.perf_counter() - t
        total_mb = sum(map(len, data)) / 1e6
        del data
        rows.append((f"raw sha256 of the same {total_mb:,.0f} MB", f"{raw:.2f} s", "limit"))
        # The bulk entries reference media that is not on disk: audit the log without the media store.
        log.media = None
        audit_rows(url, log, raw, rows)


def audit_rows(url: str, log: EvidenceLog, raw: float, rows: list[tuple[str, str, str]]) -> None:
    """The full audit as `enforcegw evidence audit` runs it (three runs), then the other engines and worker
    counts once each, and the floor under the native path: its COPY stream drained with no checks."""
    cpus = os.cpu_count() or 1
    workers = default_workers()
    engine = "C accelerator" if accelerator.available() else "pure Python (evidence.audit._scan not built)"
    runs = sorted(_audit(log, workers, True) for _ in range(3))
    worst = runs[-1] / raw
    verdict = "met" if worst <= 3 else "MISSED"
    rows.append((f"full audit, default: {engine}, {workers} process(es) on {cpus} CPUs (3 runs)",
                 " / ".join(f"{r:.2f}" for r in runs) + " s",
                 f"{runs[1] / raw:.1f}x raw median, {worst:.1f}x worst (goal <= 3x: {verdict})"))
    variants = [(f"{'native' if native else 'pure Python'}, {w} process(es)", w, native)
                for native in ((True, False) if accelerator.available() else (False,)) for w in (1, cpus)]
    for label, w, native in variants:
        if (w, native) != (workers, accelerator.available()):
            r = _audit(log, w, native)
            rows.append((f"  full audit, {label}", f"{r:.2f} s", f"{r / raw:.1f}x raw"))
    # psycopg's own fetch loop, draining the same COPY the native path reads, in one process: no hashing.
    t = time.perf_counter()
    with log.pool.connection() as conn:
        pg = conn.pgconn
        pg.send_query(f"COPY (SELECT {COPY_COLUMNS} FROM evidence_entries ORDER BY idx) TO STDOUT (FORMAT binary)"
                      .encode())
        pg.get_result()
        get = pg.get_copy_data
        while get(0)[0] >= 0:
            pass
        while pg.get_result() is not None:
            pass
    fetch = time.perf_counter() - t
    rows.append(("  floor: the rows' COPY stream, received and dropped", f"{fetch:.2f} s", f"{fetch / raw:.1f}x raw"))


def _audit(log: EvidenceLog, workers: int, native: bool) -> float:
    report = audit_log(log, workers=workers, native=native)
    assert report.ok, report.findings[:5]
    return report.seconds


if __name__ == "__main__":
    sys.exit(main())
