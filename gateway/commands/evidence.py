"""`enforcegw keys show`, `enforcegw evidence export|audit|checkpoint`, `enforcegw verify FILE.zip`."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from evidence.audit.auditor import audit_log
from evidence.audit.kept import KeptCheckpoint, read_kept
from evidence.bundle import export_bundle
from evidence.config import EvidenceConfig
from evidence.log import EvidenceLog
from evidence.signer import NoteSigner, load_or_create_key
from evidence.verify import VerificationError, parse_vkey
from evidence.verify import main as verify_main
from gateway.config import Settings, load_settings
from gateway.store.connect import resolve_database_url


class AlertNotFound(LookupError):
    pass


class CommandError(ValueError):
    """Bad input to a command: one line, exit 2."""


class AlertEvidenceMismatch(RuntimeError):
    """An alert's review change names an evidence entry that is not that review: the store disagrees with itself,
    and a bundle made from it would mislead, so none is made."""


def _alert_row(conn: psycopg.Connection, alert: str) -> tuple | None:
    # Two lookups, each by its own index, rather than one OR that scans every alert.
    cols = "id, clue_code, evidence_open_idx, evidence_end_idx, (detail->>'clip_evidence_idx')::bigint"
    row = conn.execute(f"SELECT {cols} FROM alerts WHERE clue_code = %s", (alert,)).fetchone()
    if row is None and alert.isascii() and alert.isdigit():
        row = conn.execute(f"SELECT {cols} FROM alerts WHERE id = %s", (int(alert),)).fetchone()
    return row


def alert_entry_indexes(log: EvidenceLog, alert: str) -> list[int]:
    """The evidence entries of an alert (by clue code or numeric id), in log order: its open and end entries (and
    a video alert's clip entry) and every review decision on it. Each decision writes its review entry and the
    alert's `review` change (which holds the entry's index) in one transaction, so the changes find every review,
    by the alert_changes index on (alert_id, id); and they are what `GET /api/alerts/{code}` shows as the review
    history, so the history and the bundle list the same decisions."""
    with log.pool.connection() as conn:
        row = _alert_row(conn, alert)
        if row is None:
            raise AlertNotFound(f"no alert with clue code or id {alert!r}")
        alert_id, code, *own = row
        reviews = conn.execute(
            "SELECT id, payload->'review'->'evidence_idx' FROM alert_changes"
            " WHERE alert_id = %s AND type = 'review' ORDER BY id", (alert_id,)).fetchall()
        found = {idx: (kind, bytes(entry)) for idx, kind, entry in conn.execute(
            "SELECT idx, entry_type, entry FROM evidence_entries WHERE idx = ANY(%s)",
            ([i for _, i in reviews if isinstance(i, int)],))}
    for change_id, idx in reviews:
        kind, entry = found.get(idx, (None, b"{}")) if isinstance(idx, int) else (None, b"{}")
        payload = json.loads(entry).get("payload") or {}
        if kind != "review" or payload.get("clue_code") != code or payload.get("alert_id") != alert_id:
            raise AlertEvidenceMismatch(f"alert {code}: review change {change_id} names evidence entry {idx}, "
                                        "which is not a review of this alert")
    indexes = sorted({i for i in own if i is not None} | {i for _, i in reviews})
    if not indexes:
        raise AlertNotFound(f"alert {alert!r} has no evidence entries")
    return indexes


def register(subparsers: argparse._SubParsersAction) -> None:
    keys = subparsers.add_parser("keys", help="The evidence log signing key.")
    ksub = keys.add_subparsers(dest="keys_command", metavar="ACTION")
    show = ksub.add_parser("show", help="Print the verifier key (signed-note vkey), creating the key if needed.")
    show.set_defaults(func=_keys_show)

    ev = subparsers.add_parser("evidence", help="Evidence log: export bundles, audit, checkpoints.")
    esub = ev.add_subparsers(dest="evidence_command", metavar="ACTION")
    exp = esub.add_parser("export", help="Write an offline-verifiable bundle (zip).")
    which = exp.add_mutually_exclusive_group(required=True)
    which.add_argument("--entries", help="Comma-separated entry indexes, e.g. 12,13,40.")
    which.add_argument("--alert", help="Export the entries of this alert.")
    exp.add_argument("-o", "--output", required=True, type=Path, help="Output FILE.zip.")
    exp.add_argument("--purpose", default="evidence export", help="Why it is exported (goes in the manifest).")
    exp.add_argument("--producer", default="enforcegw", help="Who exports it (goes in the manifest).")
    exp.add_argument("--checkpoint", type=Path, action="append", default=[], metavar="FILE", dest="kept",
                     help="A checkpoint the receiver kept from before; the bundle carries a consistency proof from "
                          "it, so that `verify --checkpoint FILE` can hold the bundle to it. Repeatable.")
    exp.set_defaults(func=_export)
    aud = esub.add_parser("audit", help="Re-hash and re-check the whole log; exit 1 on any finding.")
    aud.add_argument("--no-progress", action="store_true", help="No progress bars.")
    aud.add_argument("--workers", type=int, default=None,
                     help="Scanning processes, this one included (default: evidence.audit_workers; 0 there "
                          "means one per CPU, one per two CPUs with the C accelerator).")
    aud.add_argument("--pure-python", action="store_true",
                     help="Re-hash with the pure-Python scan paths even where the C accelerator is built.")
    aud.add_argument("--show", type=int, default=50, metavar="N",
                     help="Findings listed on screen (the counts by kind are always complete; default 50).")
    aud.add_argument("--report", type=Path, metavar="FILE.json", help="Write the full report, every finding, here.")
    aud.add_argument("--checkpoint", type=Path, action="append", default=[], metavar="FILE", dest="kept",
                     help="A checkpoint seen before and kept outside the log (one signed note, or several one "
                          "after another, as `evidence checkpoint -o` writes them); repeatable. Each must verify "
                          "under the log's key and be a prefix of the log now: that is what shows a rollback.")
    aud.set_defaults(func=_audit)
    cp = esub.add_parser("checkpoint", help="Integrate pending entries, sign a checkpoint now and print it (or save "
                                            "it to keep for a later `evidence audit --checkpoint`).")
    cp.add_argument("-o", "--output", type=Path, metavar="FILE", help="Write the signed note to FILE.")
    cp.add_argument("--append", action="store_true",
                    help="With -o: add the note to the ones FILE already holds instead of replacing them.")
    cp.set_defaults(func=_checkpoint)

    ver = subparsers.add_parser("verify", help="Verify an evidence bundle offline, against a key from outside it.")
    ver.add_argument("bundle", type=Path, help="FILE.zip or an unzipped bundle directory.")
    ver.add_argument("--vkey", metavar="KEY_OR_FILE",
                     help="The log's verifier key as published, or a file holding it. Default: --vkey-url, else "
                          "the key of the log configured with -c (as `enforcegw keys show` prints it).")
    ver.add_argument("--vkey-url", metavar="URL",
                     help="Fetch the verifier key the bureau publishes (plain text, e.g. "
                          "https://gateway.example/api/public/vkey).")
    ver.add_argument("--checkpoint", type=Path, action="append", default=[], metavar="FILE",
                     help="A checkpoint kept from before; the bundle's must be consistent with it. Repeatable.")
    ver.set_defaults(func=_verify)


def _settings(args: argparse.Namespace) -> tuple[Settings, EvidenceConfig]:
    settings = load_settings(args.config)
    # Settings gains an `evidence: EvidenceConfig` section later; until then the defaults apply.
    return settings, getattr(settings, "evidence", None) or EvidenceConfig()


@contextmanager
def _open_log(args: argparse.Namespace) -> Iterator[EvidenceLog]:
    settings, cfg = _settings(args)
    with resolve_database_url(settings) as url:
        psycopg.connect(url, connect_timeout=10).close()  # fail fast and plainly, not after the pool's 30 s wait
        with EvidenceLog.open(url, cfg, settings.data_dir) as log:
            yield log


def _keys_show(args: argparse.Namespace) -> int:
    settings, cfg = _settings(args)
    signer = NoteSigner(cfg.origin, load_or_create_key(cfg.resolved_key_path(settings.data_dir)))
    print(signer.vkey)
    return 0


def _export(args: argparse.Namespace) -> int:
    try:
        kept = [k.note for k in _read_kept(args.kept)]
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with _open_log(args) as log:
        try:
            if args.alert:
                indexes = alert_entry_indexes(log, args.alert)
            else:
                indexes = [int(x) for x in args.entries.split(",") if x.strip()]
        except AlertNotFound as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except ValueError:
            print("error: --entries takes comma-separated integers", file=sys.stderr)
            return 2
        except AlertEvidenceMismatch as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        try:
            s = export_bundle(log, indexes, args.output, purpose=args.purpose, producer=args.producer, kept=kept)
        except (LookupError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print(f"wrote {s.path}: {s.entries} entries ({s.reviews} review decisions), {s.media} media files, "
          f"checkpoint size {s.checkpoint_size}")
    return 0


def _read_kept(paths: list[Path]) -> list[KeptCheckpoint]:
    kept: list[KeptCheckpoint] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"--checkpoint {path}: cannot read it ({exc})") from None
        notes = read_kept(str(path), text)
        if not notes:
            raise CommandError(f"--checkpoint {path}: holds no signed note")
        kept.extend(notes)
    return kept


def _audit(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    try:
        kept = _read_kept(args.kept)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with _open_log(args) as log:
        report = audit_log(log, progress=not args.no_progress, workers=args.workers, native=not args.pure_python,
                           kept=kept)
    console = Console()
    console.print(f"entries {report.entries}, devices {report.devices}, checkpoints {report.checkpoints}, "
                  f"media files {report.media_files}, {report.seconds:.1f} s")
    if kept:
        console.print(f"held to {len(kept)} kept checkpoint(s) from {len(args.kept)} file(s)")
    console.print("chunks: " + ", ".join(f"{n} by the {path} path" for path, n in sorted(report.chunks.items()))
                  + f" ({'C accelerator' if report.engine == 'native' else 'pure Python'})")
    if args.report:
        args.report.write_text(json.dumps({
            "entries": report.entries, "devices": report.devices, "checkpoints": report.checkpoints,
            "media_files": report.media_files, "seconds": round(report.seconds, 3), "ok": report.ok,
            "engine": report.engine, "chunks": report.chunks,
            "findings": [{"kind": f.kind, "item": f.item, "detail": f.detail} for f in report.findings],
        }, ensure_ascii=False, indent=1))
        console.print(f"report written to {args.report}")
    if report.ok:
        console.print("[green]no findings[/green]")
        return 0
    # A damaged log can have a million findings: count them all, list the first few.
    by_kind = Counter(f.kind for f in report.findings)
    console.print(f"[red]{len(report.findings)} findings[/red]: "
                  + ", ".join(f"{kind} {n}" for kind, n in by_kind.most_common()))
    table = Table("kind", "item", "finding", title=f"first {min(args.show, len(report.findings))} findings")
    for f in report.findings[:args.show]:
        table.add_row(f.kind, f.item, f.detail)
    console.print(table)
    return 1


def _checkpoint(args: argparse.Namespace) -> int:
    if args.append and args.output is None:
        print("error: --append needs -o FILE", file=sys.stderr)
        return 2
    with _open_log(args) as log:
        cp = log.checkpoint()
    if args.output is None:
        print(cp.note, end="")
        return 0
    try:
        with args.output.open("a" if args.append else "w", encoding="utf-8") as f:
            f.write(cp.note)
    except OSError as exc:
        print(f"error: cannot write {args.output}: {exc}", file=sys.stderr)
        return 2
    print(f"checkpoint size {cp.size} {'added to' if args.append else 'written to'} {args.output}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    if not args.bundle.exists():
        print(f"error: {args.bundle}: no such file or directory", file=sys.stderr)
        return 2
    try:
        vkey, source = _outside_key(args)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"verifier key {source}: {vkey}")
    # The very verifier an auditor runs from the bundle: one implementation, one report format.
    kept = [a for f in args.checkpoint for a in ("--checkpoint", str(f))]
    return verify_main([str(args.bundle), "--vkey", vkey, *kept])


def _outside_key(args: argparse.Namespace) -> tuple[str, str]:
    """The log's key from outside the bundle, and where it came from: a bundle rewritten by someone else carries
    their key, so the bundled one proves nothing by itself."""
    if args.vkey is not None:
        path = Path(args.vkey)
        try:
            key = path.read_text(encoding="utf-8").strip() if path.is_file() else args.vkey.strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"--vkey {args.vkey}: cannot read it ({exc})") from None
        return _checked(key, f"--vkey {args.vkey}"), "from --vkey"
    if args.vkey_url is not None:
        return _checked(_fetch_key(args.vkey_url), f"--vkey-url {args.vkey_url}"), f"from {args.vkey_url}"
    settings, cfg = _settings(args)
    path = cfg.resolved_key_path(settings.data_dir)
    if not path.exists():
        raise CommandError("no verifier key from outside the bundle: pass --vkey KEY_OR_FILE or --vkey-url URL, "
                           f"or -c CONFIG of the log that signed it (no key at {path})")
    try:
        key = NoteSigner(cfg.origin, load_or_create_key(path)).vkey
    except (OSError, ValueError) as exc:
        raise CommandError(f"the configured log's key {path}: {exc}") from None
    return key, f"of the configured log ({path})"


def _checked(key: str, where: str) -> str:
    try:
        parse_vkey(key)
    except VerificationError as exc:
        raise CommandError(f"{where}: {exc.reason}") from None
    return key


def _fetch_key(url: str) -> str:
    from urllib.error import URLError
    from urllib.parse import urlparse
    from urllib.request import urlopen

    if urlparse(url).scheme not in ("http", "https"):
        raise CommandError(f"--vkey-url {url}: only http and https URLs")
    try:
        with urlopen(url, timeout=10) as resp:
            body = resp.read(4097)
    except (URLError, OSError, ValueError) as exc:
        raise CommandError(f"--vkey-url {url}: cannot fetch the published key ({exc})") from None
    if len(body) > 4096:
        raise CommandError(f"--vkey-url {url}: answer too long for a verifier key")
    try:
        return body.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CommandError(f"--vkey-url {url}: answer is not text") from None
