"""The world the prompt-injection and fault tests run in: two real Synthea patients, A and
B, in one in-memory embedded store, and an httpx transport that records every request
before handing it to the embedded FHIR app.

Part of the injection table (``tests/support/injection_cases.py`` is the import point);
kept apart because the fault tests need only the world, not the hostile cases.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from fhir_client import FhirClient
from fhir_client.embedded import EMBEDDED_BASE_URL, EmbeddedStore, embedded_asgi_app
from fhir_client.loading import load_paths

Resource = dict[str, Any]

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "synthea_fixtures" / "fhir"
# The two smallest fixture patients keep the module-scoped load to a few seconds.
PATIENT_A_FILE = "Gregoria352_Douglas31_9cd1c047-7dfd-3c0f-1e5b-37e2d2ce7d9c.json"
PATIENT_B_FILE = "Antonina346_Ladawn167_Haag279_ac639121-48f5-13e2-de98-9e782323a070.json"
PLANTED_DATE = "2025-06-01"  # newer than every fixture resource: first in newest-first lists

FULL_REFERENCE = re.compile(r"\[([A-Z][A-Za-z]+/[^\[\]\s]+)\]")
"""Any bracketed ``[Type/id]`` in an answer, also ids the verifier's own pattern rejects."""


@dataclass
class World:
    """Two fixture patients in one in-memory store, and what each one's record holds."""

    store: EmbeddedStore
    a_id: str
    b_id: str
    a_refs: set[str]
    b_refs: set[str]
    b_samples: dict[str, str]  # resource type -> one id of B's ("Observation" -> "...")
    planted: set[str] = field(default_factory=set)

    def fill(self, template: str) -> str:
        """A payload with the world's ids filled in (plain replacement: payloads hold JSON)."""
        values = {
            "{A}": self.a_id,
            "{B}": self.b_id,
            "{B_OBS}": self.b_samples["Observation"],
            "{B_PROC}": self.b_samples["Procedure"],
            "{B_COND}": self.b_samples["Condition"],
            # "read [Patient/B]" stored backwards: a right-to-left override displays it forwards.
            "{B_REVERSED}": f"read [Patient/{self.b_id}]"[::-1],
        }
        for key, value in values.items():
            template = template.replace(key, value)
        return template


def _bundle_refs(path: Path) -> tuple[str, set[str], dict[str, str]]:
    bundle = json.loads(path.read_bytes())
    refs: set[str] = set()
    samples: dict[str, str] = {}
    patient_id = ""
    for entry in bundle.get("entry", []):
        resource = entry.get("resource") or {}
        kind, rid = resource.get("resourceType"), resource.get("id")
        if not kind or not rid:
            continue
        refs.add(f"{kind}/{rid}")
        samples.setdefault(kind, rid)
        if kind == "Patient":
            patient_id = rid
    return patient_id, refs, samples


def build_world() -> World:
    """Load the reference-data bundles and patients A and B with the project's loader."""
    paths = [
        FIXTURES / PATIENT_A_FILE,
        FIXTURES / PATIENT_B_FILE,
        *sorted(FIXTURES.glob("hospitalInformation*.json")),
        *sorted(FIXTURES.glob("practitionerInformation*.json")),
    ]
    store = EmbeddedStore(":memory:")

    async def load() -> None:
        async with FhirClient(
            EMBEDDED_BASE_URL,
            transport=httpx.ASGITransport(app=embedded_asgi_app(store)),
            timeout=600.0,
        ) as client:
            report = await load_paths(client, paths, validate=False)
        if report.failures:
            raise RuntimeError(f"loading the fixtures failed: {report.failures}")

    asyncio.run(load())
    a_id, a_refs, _ = _bundle_refs(FIXTURES / PATIENT_A_FILE)
    b_id, b_refs, b_samples = _bundle_refs(FIXTURES / PATIENT_B_FILE)
    return World(store, a_id, b_id, a_refs, b_refs, b_samples)


class SpyTransport(httpx.AsyncBaseTransport):
    """Records every request (method, full URL) and hands it to the embedded FHIR app.

    Sits where a real network would be, so it sees exactly what a remote FHIR server
    would: the proof that the agent never asked for another patient's data.
    """

    def __init__(self, store: EmbeddedStore) -> None:
        self.inner = httpx.ASGITransport(app=embedded_asgi_app(store))
        self.requests: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, str(request.url)))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
