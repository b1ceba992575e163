"""Evidence log settings. The gateway's Settings embeds this model as `evidence`."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class EvidenceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    origin: str = Field(
        default="evidence.enforcegw.example/log1",
        pattern=r"^[^\s+]+$",
        description="Log identity (C2SP checkpoint origin and signing key name): a schemeless URL, unique per "
        "log. A new hash or key algorithm means a new origin.",
    )
    checkpoint_interval_s: float = Field(
        default=10.0, gt=0, description="Sign a checkpoint at least this often while entries are pending."
    )
    checkpoint_every_entries: int = Field(
        default=1000, ge=1, description="Sign a checkpoint as soon as this many entries are pending."
    )
    integrate_batch_max: int = Field(
        default=4096, ge=1, description="Most entries the sequencer integrates into the tree in one transaction."
    )
    audit_workers: int = Field(
        default=0, ge=0, description="Processes scanning the log in `enforcegw evidence audit` (the calling one "
        "included), each with its own database connection. 0: one per CPU, or one per two CPUs where the C "
        "accelerator is built (each process then keeps its PostgreSQL backend about as busy as itself).",
    )
    key_path: Path | None = Field(
        default=None,
        description="Ed25519 signing key (raw 32-byte seed, mode 0600). Empty: <data_dir>/keys/evidence.key, "
        "generated on first start.",
    )
    media_dir: Path | None = Field(
        default=None, description="Root of the content-addressed media store. Empty: <data_dir>/media."
    )

    def resolved_key_path(self, data_dir: Path) -> Path:
        return self.key_path or data_dir / "keys" / "evidence.key"

    def resolved_media_dir(self, data_dir: Path) -> Path:
        return self.media_dir or data_dir / "media"
