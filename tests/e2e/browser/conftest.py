"""Tests that drive the dashboard in a real headless Chromium through Playwright.

The system's Chromium (Debian's ``chromium``, or ``EHR_AGENT_CHROMIUM``) is used; nothing
is downloaded.  Without Chromium or Playwright the tests skip with the reason, except under
``EHR_AGENT_REQUIRE_BROWSER=1`` (set by ``.ci/run``), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.requirements import skip_or_fail

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
LAUNCH_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    found = os.environ.get("EHR_AGENT_CHROMIUM") or next(
        (p for p in map(shutil.which, CHROMIUM_CANDIDATES) if p), None
    )
    if not found:
        skip_or_fail("the browser test needs Chromium: apt-get install -y chromium", "BROWSER")
    return found


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    """A fresh Playwright page in a private Chromium profile, closed after the test."""
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("the browser test needs Playwright: pip install playwright", "BROWSER")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=executable,
            headless=True,
            args=LAUNCH_ARGS,
            viewport={"width": 1100, "height": 900},
        )
        try:
            yield context.new_page()
        finally:
            context.close()
