"""Where the checkout and the shared material beside it live."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A file under ../shared; skips the calling test with a reason when shared/ is not beside this checkout."""
    import pytest

    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} not present: shared/ is not beside this checkout")
    return p
