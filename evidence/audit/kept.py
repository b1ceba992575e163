"""Checkpoints kept outside the log, held against it: what makes a rollback visible.

A superuser who deletes the newest entries together with their nodes, tree heads and checkpoints leaves a log
that is consistent with itself; only a checkpoint someone saw before (an auditor's file, a case system's copy)
shows that the log once covered more. Each kept checkpoint must verify under the log's key and be a prefix of
the log as it is now: its size no larger than the rebuilt tree's, and a consistency proof from its root to the
rebuilt root, computed from the rebuilt tree, that verifies (RFC 9162 2.1.4.2). It must also still be among
the stored checkpoints, which the log keeps forever.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from evidence.audit.tree import RebuiltTree
from evidence.merkle import EMPTY_ROOT, consistency_ranges, range_hash
from evidence.verify import VerificationError, parse_checkpoint, split_notes, verify_consistency, verify_note


@dataclass(frozen=True)
class KeptCheckpoint:
    source: str  # where it was kept: a file name, with "#k" when the file holds several notes
    note: str


def read_kept(path: str, text: str) -> list[KeptCheckpoint]:
    """The checkpoint notes of one kept file (one note, or several one after another)."""
    notes = split_notes(text)
    if len(notes) == 1:
        return [KeptCheckpoint(path, notes[0])]
    return [KeptCheckpoint(f"{path}#{k}", note) for k, note in enumerate(notes, 1)]


def check_kept(kept: Sequence[KeptCheckpoint], vkeys: list[str], origin: str, tree: RebuiltTree,
               stored_sizes: Iterable[int]) -> list[tuple[str, str, str]]:
    """Findings (kind, item, detail) for kept checkpoints the log as it is now does not hold."""
    out: list[tuple[str, str, str]] = []
    stored = set(stored_sizes)
    for k in kept:
        try:
            cp_origin, size, root, _ = parse_checkpoint(verify_note(k.note, vkeys))
        except VerificationError as exc:
            out.append(("kept_checkpoint", f"kept checkpoint {k.source}", f"not a checkpoint of this log's key: "
                        f"{exc.reason}"))
            continue
        item = f"kept checkpoint {k.source} (size {size}, root {base64.b64encode(root).decode()})"
        problem = _problem(cp_origin, size, root, origin, tree, stored)
        if problem:
            out.append(("kept_checkpoint", item, problem))
    return out


def _problem(cp_origin: str, size: int, root: bytes, origin: str, tree: RebuiltTree, stored: set[int]) -> str | None:
    if cp_origin != origin:
        return f"signed for origin {cp_origin!r}, this log is {origin!r}"
    if size > tree.size:
        return (f"covers {size} entries, the log holds {tree.size}: the log was rolled back or truncated "
                f"(entries {tree.size}..{size - 1} are gone)")
    if size == 0:
        return None if root == EMPTY_ROOT else "size 0 with a root that is not the empty tree's: a fork"
    current = tree.roots([tree.size])
    proof = [range_hash(s, e, tree.node) for s, e in consistency_ranges(size, tree.size)] if size < tree.size else []
    try:
        verify_consistency(size, tree.size, root, current, proof)
    except VerificationError as exc:
        return (f"not consistent with the log's {tree.size} entries ({exc.reason}): the log's tree at size {size} "
                f"has root {base64.b64encode(tree.roots([size])).decode()}, a fork or rewritten history")
    if size not in stored:
        return "consistent with the log, but no longer among its stored checkpoints: a signed checkpoint was removed"
    return None
