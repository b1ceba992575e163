"""Signature checks of the stored checkpoints, apart from the rest of the audit so that they can run in another
process while this one rebuilds the tree (this module imports only the bundled verifier).

A gateway signs a checkpoint every N seconds while entries arrive, so a log that grows slowly holds about one
checkpoint per few entries, and an Ed25519 verification per checkpoint (about as long as hashing a hundred
entries) then outweighs re-hashing the entries.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor

from evidence.verify import VerificationError, parse_checkpoint, verify_note

NoteCheck = tuple[str, int, bytes] | str  # the signed (origin, size, root), or why the note fails
IN_ANOTHER_PROCESS = 2000  # notes worth a process start (~0.2 s) in parallel with the tree rebuild


def check_notes(notes: list[str], vkeys: list[str]) -> list[NoteCheck]:
    out: list[NoteCheck] = []
    for note in notes:
        try:
            origin, size, root, _ = parse_checkpoint(verify_note(note, vkeys))
            out.append((origin, size, root))
        except VerificationError as exc:
            out.append(exc.reason)
    return out


class NoteChecks:
    """Checks notes at once, or for many notes starts doing so in a spawned process; `result()` waits."""

    def __init__(self, notes: list[str], vkeys: list[str]) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._future: Future[list[NoteCheck]] | None = None
        self._done: list[NoteCheck] | None = None
        if len(notes) >= IN_ANOTHER_PROCESS:
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            self._future = self._pool.submit(check_notes, notes, vkeys)
        else:
            self._done = check_notes(notes, vkeys)

    def result(self) -> list[NoteCheck]:
        if self._done is None:
            assert self._future is not None
            self._done = self._future.result()
            self.close()
        return self._done

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> NoteChecks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
