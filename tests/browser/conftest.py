"""Browser-test fixtures: a live fleet (``live_fleet.py``) and Debian's headless Chromium driven
by Playwright.

Skipped, saying why, when the Playwright package or the Chromium binary is missing
(``.ci/run`` installs Chromium with apt; ``playwright install`` is never used: its browser
downloads are not reachable here). ``$GPUFLEET_CHROMIUM`` points at another Chromium binary.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_fleet import LiveFleet, live_fleet

CHROMIUM = Path(os.environ.get("GPUFLEET_CHROMIUM", "/usr/bin/chromium"))
NO_PLAYWRIGHT = "the playwright package is not installed (dev extras: pip install -e '.[dev]')"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveFleet]:
    with live_fleet(tmp_path_factory.mktemp("live")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason=NO_PLAYWRIGHT)
    if not CHROMIUM.exists():
        pytest.skip(
            f"no Chromium at {CHROMIUM} (apt-get install -y chromium, or set GPUFLEET_CHROMIUM)"
        )
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies). Console errors fail the test: a script or style
    that the Content-Security-Policy blocked, or a failed request, shows up there."""
    context = browser.new_context()
    tab = context.new_page()
    errors: list[str] = []
    tab.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield tab
        assert errors == [], errors
    finally:
        context.close()
