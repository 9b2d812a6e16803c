"""The dashboard page in headless Chromium: pick a patient, ask, see the cited answer.

The browser (the ``page`` fixture) and its skip-or-fail rule are this tier's conftest.
A screenshot of the answered page goes to ``$EHR_AGENT_SCREENSHOT_DIR`` (default: the
test's temporary directory) for a human to look at.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.api.security import TokenRegistry, hash_token
from agent.audit import AuditLog
from tests.support.api_server import (
    fixture_patients,
    hba1c_patient,
    hba1c_results,
    running_server,
    store_copy,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = store_copy(tmp_path_factory.mktemp("browser"), tmp_path_factory.getbasetemp())
    with running_server(db) as url:
        yield url


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
    cited = {re.sub(r"^.*/resources/", "", href) for href in hrefs}
    assert len(cited) >= 3 and cited <= set(truth), hrefs
    scoped = re.escape(f"{base_url}/patients/{patient}/resources/Observation/")
    assert all(re.fullmatch(scoped + r"[A-Za-z0-9\-.]+", h) for h in hrefs)
    assert page.locator("#sources li").count() == len(cited)
    assert "not for clinical decisions" in page.inner_text("#disclaimer")

    assert page.locator(".chart svg").count() == 1
    dots = page.eval_on_selector_all(
        ".chart svg circle.point", "ds => ds.map(d => d.dataset.reference)"
    )
    assert len(dots) >= 3 and set(dots) <= set(truth)

    # A citation opens the cited resource, fetched through the patient-scoped route.
    page.click("#answer a.cite >> nth=0")
    page.wait_for_function(
        "document.querySelector('#resource-body').textContent.includes('resourceType')"
    )
    shown = page.inner_text("#resource-body")
    first = re.sub(r"^.*/resources/", "", hrefs[0])
    assert f'"id": "{first.split("/")[1]}"' in shown
    page.click("#resource-dialog button")

    screenshots = Path(os.environ.get("EHR_AGENT_SCREENSHOT_DIR") or tmp_path)
    screenshots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshots / "dashboard-answer.png"), full_page=True)
    assert errors == []


TOKEN = "browser-token-3f2e1d0c9b8a7f6e5d4c3b2a1"
KEY = bytes(range(7, 39))


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A server that needs a token; the token grants only the HbA1c patient."""
    directory = tmp_path_factory.mktemp("browser-tokens")
    db = store_copy(directory, tmp_path_factory.getbasetemp())
    entry = {"name": "ward-7", "hmac": hash_token(TOKEN, KEY), "patients": [hba1c_patient()]}
    (directory / "tokens.json").write_text(json.dumps({"tokens": [entry]}))
    tokens = TokenRegistry.load(directory / "tokens.json", key=KEY)
    audit_db = directory / "audit.sqlite"
    with running_server(db, tokens=tokens, audit_db=audit_db) as url:
        yield url, audit_db


def test_dashboard_works_with_a_token_and_scoped_citation_links(
    page: Any, token_server: tuple[str, Path]
) -> None:
    base_url, audit_db = token_server
    patient = hba1c_patient()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sent: dict[str, str | None] = {}
    page.on(
        "request",
        lambda request: sent.__setitem__(request.url, request.headers.get("authorization")),
    )
    page.set_default_timeout(30_000)

    page.goto(base_url + "/")
    page.wait_for_selector("#sign-in:not([hidden])")  # the server answered 401: sign in
    assert "needs an API token" in page.inner_text("#error")
    page.fill("#token", TOKEN)
    page.click("#sign-in button")
    page.wait_for_selector(f'#patient option[value="{patient}"]', state="attached")
    assert page.eval_on_selector_all("#patient option", "os => os.map(o => o.value)") == [patient]
    assert page.evaluate("sessionStorage.getItem('ehr-agent.token')") == TOKEN
    assert page.evaluate("localStorage.length") == 0 and TOKEN not in page.content()

    page.fill("#question", "Show the HbA1c trend")
    page.click("#ask")
    page.wait_for_selector("#disclaimer:not(:empty)")
    assert page.inner_text("#error") == ""
    stream = next(url for url in sent if url.endswith(f"/patients/{patient}/ask/stream"))
    assert sent[stream] == f"Bearer {TOKEN}"  # the SSE call carries the token too

    page.click("#answer a.cite >> nth=0")
    page.wait_for_function(
        "document.querySelector('#resource-body').textContent.includes('resourceType')"
    )
    assert '"resourceType": "Observation"' in page.inner_text("#resource-body")
    resource_calls = [url for url in sent if "/resources/Observation/" in url]
    assert resource_calls and all(sent[url] == f"Bearer {TOKEN}" for url in resource_calls)
    page.click("#resource-dialog button")

    log = AuditLog(audit_db)
    try:
        rows = log.accesses(caller="ward-7", patient_id=patient, limit=100)
    finally:
        log.close()
    actions = {row.action for row in rows}
    assert "POST /patients/{patient_id}/ask/stream" in actions
    assert "GET /patients/{patient_id}/resources/{resource_type}/{resource_id}" in actions
    assert all(row.status == 200 for row in rows)

    # Signing out forgets the token; the tab cannot read anything more.
    page.click("#sign-out")
    assert page.evaluate("sessionStorage.getItem('ehr-agent.token')") is None
    assert errors == []
