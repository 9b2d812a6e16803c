"""Every tool on real Synthea records: the client each test runs on, and the ground truth
its expectations are computed from, read straight from the bundle JSON (the test's own
rules, never the tools').

Each dataset (a module's ``DATASETS``) is loaded once into an embedded store; on our
fixtures every test also runs against a real HAPI FHIR server (the session's
``hapi_with_fixtures``, loaded with the same ``load_paths``): the tools use standard R4
search only, so the same assertions must hold.  Why here: the tools tests are in
``tests/tools/test_tools_on_synthea*.py``, by concern; the ``hapi_url`` and ``fhir``
fixtures are imported by name (with ``__all__``) where used, so ``fhir`` is this
two-backend one there and the embedded-only one of ``tests/conftest.py`` elsewhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from fhir_client.client import FhirClient
from fhir_client.embedded import embedded_client
from tests.support.tools_datasets import Dataset, PatientRecord
from tools import PatientToolset, ToolResult, make_toolset

Resource = dict[str, Any]

BACKENDS = ["embedded", pytest.param("hapi", marks=pytest.mark.hapi)]


@pytest.fixture(params=BACKENDS)
def hapi_url(dataset: Dataset, request: pytest.FixtureRequest) -> str | None:
    """None for the embedded facade; for HAPI, the URL of a server holding our fixtures.

    HAPI holds only our own fixtures (the conformance suite compares it with an
    embedded store holding exactly those); the shared sets run on the embedded store.
    """
    if request.param == "embedded":
        return None
    if dataset.name != "fixtures":
        pytest.skip("the HAPI run covers our fixtures; shared datasets run on the embedded store")
    url: str = request.getfixturevalue("hapi_with_fixtures")
    return url


@pytest.fixture
async def fhir(dataset: Dataset, hapi_url: str | None) -> AsyncIterator[Any]:
    if hapi_url:
        async with FhirClient(hapi_url) as client:
            yield client
        return
    async with embedded_client(dataset.store) as client:
        yield client


# ------------------------------------------------------------------ JSON ground truth


def when(resource: Resource) -> str:
    """The sort date of a resource, read straight from the JSON (test's own rules)."""
    for key in (
        "effectiveDateTime",
        "occurrenceDateTime",
        "authoredOn",
        "onsetDateTime",
        "recordedDate",
        "performedDateTime",
        "date",
    ):
        if isinstance(resource.get(key), str):
            return str(resource[key])
    for key in ("period", "performedPeriod", "effectivePeriod"):
        if isinstance(resource.get(key), dict) and "start" in resource[key]:
            return str(resource[key]["start"])
    return ""


def ref(resource: Resource) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def codes(concept: Any) -> set[str]:
    return {c.get("code") for c in (concept or {}).get("coding", [])}


def names(concept: Any) -> str:
    concept = concept or {}
    parts = [concept.get("text") or ""] + [c.get("display", "") for c in concept.get("coding", [])]
    return " ".join(parts).lower()


def observations_with(record: PatientRecord, loinc: set[str]) -> list[Resource]:
    return [o for o in record.of("Observation") if codes(o.get("code")) & loinc]


def most(dataset: Dataset, count: Any) -> PatientRecord:
    """The patient for whom ``count(record)`` is largest; skip if it is zero for all."""
    best = max(dataset.patients, key=count)
    if not count(best):
        pytest.skip(f"no patient in {dataset.name!r} has the data this test needs")
    return best


def newest_dates(resources: list[Resource], n: int) -> list[str]:
    return sorted((when(r)[:10] for r in resources), reverse=True)[:n]


def result_dates(result: ToolResult) -> list[str]:
    return [e.date or "" for e in result.evidence]


def toolset(fhir: Any, record: PatientRecord) -> PatientToolset:
    return make_toolset(fhir, record.id)
