"""The full audit of the evidence log: every entry and media file re-hashed, the tree rebuilt, every tree head,
checkpoint and device chain checked, and kept checkpoints held against the log.

auditor   the entry point (`audit`, `audit_log`, `AuditReport`): schedules chunks, joins them, checks the rest
chunk     what one chunk scan reports, whichever path scanned it
native    the C accelerator's confirm path (`_scan.c`, built as evidence.audit._scan where it can be)
scan      the Python paths: fast confirm, exact per-entry scan, the worker processes' entry points
tree      the tree rebuilt from the chunks and the roots of stored tree heads
notes     checkpoint signature checks, in another process when there are many
kept      checkpoints kept outside the log, held against it
"""
