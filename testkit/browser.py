"""Debian's Chromium for the console's browser tests (Playwright drives it; its own browser download needs the
internet): where it is, the skip mark when it is missing, a launched browser, and screenshots to look at."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium "
                                    "(apt-get install chromium; make test installs it)")


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield b
        finally:
            await b.close()


async def shoot(page: Any, folder: Path, name: str) -> None:
    """The whole page as folder/name.png (git-ignored folders under build/ or test-artifacts/)."""
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
