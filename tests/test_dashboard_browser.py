"""The dashboard page in headless Chromium: pick a patient, ask, see the cited answer.

Uses the system's Chromium (Debian's ``chromium``) through Playwright; nothing is
downloaded.  Without Chromium or Playwright the test skips with the reason, except
under ``EHR_AGENT_REQUIRE_BROWSER=1`` (set by ``.ci/run``), where that is a failure.
A screenshot of the answered page goes to ``$EHR_AGENT_SCREENSHOT_DIR`` (default: the
test's temporary directory) for a human to look at.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api_server import (
    fixture_patients,
    hba1c_patient,
    hba1c_results,
    running_server,
    store_copy,
)

pytestmark = pytest.mark.slow

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


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("EHR_AGENT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (EHR_AGENT_REQUIRE_BROWSER=1 makes this a failure)")
    pytest.skip(reason)


def _chromium() -> str:
    found = os.environ.get("EHR_AGENT_CHROMIUM") or next(
        (p for p in map(shutil.which, CHROMIUM_CANDIDATES) if p), None
    )
    if not found:
        _skip_or_fail("the browser test needs Chromium: apt-get install -y chromium")
    assert found is not None
    return found


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = store_copy(tmp_path_factory.mktemp("browser"), tmp_path_factory.getbasetemp())
    with running_server(db) as url:
        yield url


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("the browser test needs Playwright: pip install playwright")
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


def test_page_answers_with_citation_links_and_a_chart(
    page: Any, base_url: str, tmp_path: Path
) -> None:
    patient = hba1c_patient()
    truth = hba1c_results(fixture_patients()[patient])
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(30_000)

    page.goto(base_url + "/")
    page.wait_for_selector(f'#patient option[value="{patient}"]', state="attached")
    page.select_option("#patient", patient)
    page.fill("#question", "Show the HbA1c trend")
    page.click("#ask")
    page.wait_for_selector("#disclaimer:not(:empty)")

    hrefs = page.eval_on_selector_all("#answer a.cite", "links => links.map(a => a.href)")
    cited = {re.sub(r"^.*/fhir/", "", href) for href in hrefs}
    assert len(cited) >= 3 and cited <= set(truth), hrefs
    assert all(
        re.fullmatch(re.escape(base_url) + r"/fhir/Observation/[A-Za-z0-9\-.]+", h) for h in hrefs
    )
    assert page.locator("#sources li").count() == len(cited)
    assert "not for clinical decisions" in page.inner_text("#disclaimer")

    assert page.locator(".chart svg").count() == 1
    dots = page.eval_on_selector_all(
        ".chart svg circle.point", "ds => ds.map(d => d.dataset.reference)"
    )
    assert len(dots) >= 3 and set(dots) <= set(truth)

    # A citation opens the cited resource, fetched from the /fhir facade.
    page.click("#answer a.cite >> nth=0")
    page.wait_for_function(
        "document.querySelector('#resource-body').textContent.includes('resourceType')"
    )
    shown = page.inner_text("#resource-body")
    first = re.sub(r"^.*/fhir/", "", hrefs[0])
    assert f'"id": "{first.split("/")[1]}"' in shown
    page.click("#resource-dialog button")

    screenshots = Path(os.environ.get("EHR_AGENT_SCREENSHOT_DIR") or tmp_path)
    screenshots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshots / "dashboard-answer.png"), full_page=True)
    assert errors == []
