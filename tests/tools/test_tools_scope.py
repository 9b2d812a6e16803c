"""The patient boundary holds even when the data or the server misbehave.

Two patients share one store.  Patient A's record is tampered with: an Observation that
claims to be A's but whose subject is B, a MedicationRequest whose medicationReference
points at ``Patient/B``, a note whose text cites ``Patient/B``.  A toolset bound to A must
never return B's resources, never read ``Patient/B``, and every search it sends must carry
``patient=A``, also when the server ignores that parameter and returns everything.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from fhir_client.embedded import EmbeddedStore, embedded_client
from tools import PatientScope, make_toolset, run_tool

A, B = "patient-a", "patient-b"


def _observation(rid: str, patient: str, value: float) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}], "text": "HbA1c"},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": "2024-01-01T00:00:00Z",
        "valueQuantity": {"value": value, "unit": "%"},
    }


def _note(rid: str, patient: str, text: str) -> dict[str, Any]:
    data = base64.b64encode(text.encode()).decode()
    return {
        "resourceType": "DocumentReference",
        "id": rid,
        "status": "current",
        "type": {"text": "Progress note"},
        "subject": {"reference": f"Patient/{patient}"},
        "date": "2024-02-01T00:00:00Z",
        "content": [{"attachment": {"contentType": "text/plain", "data": data}}],
    }


RECORDS: list[dict[str, Any]] = [
    {"resourceType": "Patient", "id": A, "gender": "female", "birthDate": "1960-01-01"},
    {"resourceType": "Patient", "id": B, "gender": "male", "birthDate": "1950-01-01"},
    _observation("a1c-a", A, 6.1),
    _observation("a1c-b", B, 9.9),
    # Tampered: newer than A's result and filed among A's data, but its subject says B.
    {**_observation("a1c-tampered", B, 12.0), "effectiveDateTime": "2024-06-01T00:00:00Z"},
    {
        "resourceType": "MedicationRequest",
        "id": "med-a",
        "status": "active",
        "intent": "order",
        "medicationReference": {"reference": f"Patient/{B}"},
        "subject": {"reference": f"Patient/{A}"},
        "authoredOn": "2024-01-01",
    },
    _note("note-a", A, "Seen today. See also Patient/patient-b for the HbA1c of 9.9."),
    _note("note-b", B, "Patient B private note: HbA1c 9.9"),
]


class RecordingClient:
    """Wraps a FhirClient, recording every call; optionally drops the patient filter."""

    def __init__(self, inner: Any, *, ignore_patient: bool = False) -> None:
        self.inner = inner
        self.ignore_patient = ignore_patient
        self.reads: list[str] = []
        self.searches: list[tuple[str, dict[str, Any]]] = []

    async def read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        self.reads.append(f"{resource_type}/{resource_id}")
        result: dict[str, Any] = await self.inner.read(resource_type, resource_id)
        return result

    async def search(
        self,
        resource_type: str,
        params: Mapping[str, str | Sequence[str]] | None = None,
        *,
        max_pages: int | None = None,
        max_results: int | None = None,
    ) -> list[dict[str, Any]]:
        query = dict(params or {})
        self.searches.append((resource_type, dict(query)))
        if self.ignore_patient:  # a broken server: the compartment filter is lost
            query.pop("patient", None)
        result: list[dict[str, Any]] = await self.inner.search(
            resource_type, query, max_pages=max_pages, max_results=max_results
        )
        return result

    async def count(
        self, resource_type: str, params: Mapping[str, str | Sequence[str]] | None = None
    ) -> int:
        total: int = await self.inner.count(resource_type, params)
        return total


@pytest.fixture
def store() -> Any:
    store = EmbeddedStore(":memory:")
    store.put_resources(RECORDS)
    yield store
    store.close()


ALL_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("patient_overview", {}),
    ("conditions", {"status": "all"}),
    ("medications", {"status": "all"}),
    ("allergies", {"status": "all"}),
    ("immunizations", {}),
    ("lab_results", {"name": "HbA1c", "mode": "series"}),
    ("lab_results", {"name": "hba1c", "mode": "latest"}),
    ("lab_results", {"name": "some local test"}),
    ("vital_signs", {"name": "blood pressure"}),
    ("encounters", {}),
    ("procedures", {"name": "x"}),
    ("clinical_notes", {"keywords": ["HbA1c", "Patient/patient-b"]}),
    ("clinical_notes", {}),
    ("care_plans", {"status": "all"}),
    ("goals", {"status": "all"}),
    ("billing", {}),
]


@pytest.mark.parametrize("ignore_patient", [False, True], ids=["server-ok", "server-leaks"])
async def test_toolset_for_a_never_returns_or_reads_b(store: Any, ignore_patient: bool) -> None:
    async with embedded_client(store) as fhir:
        client = RecordingClient(fhir, ignore_patient=ignore_patient)
        tools = make_toolset(client, A)
        returned: set[str] = set()
        for name, arguments in ALL_CALLS:
            result = await run_tool(tools, name, arguments)
            returned.update(result.references)
            assert "9.9" not in result.render().replace("of 9.9.", ""), name
    own = {
        f"Patient/{A}",
        "Observation/a1c-a",
        "MedicationRequest/med-a",
        "DocumentReference/note-a",
    }
    assert returned <= own
    assert "Observation/a1c-tampered" not in returned
    assert "Observation/a1c-b" not in returned
    assert client.reads == [f"Patient/{A}"]  # never Patient/B, never the planted reference
    assert client.searches and all(q.get("patient") == A for _, q in client.searches)


async def test_latest_hba1c_ignores_the_tampered_newer_value(store: Any) -> None:
    async with embedded_client(store) as fhir:
        client = RecordingClient(fhir, ignore_patient=True)
        result = await make_toolset(client, A).lab_results("A1c")
    assert result.references == ["Observation/a1c-a"]
    assert "6.1 %" in result.render()


async def test_scope_refuses_to_widen_or_follow_patient_references(store: Any) -> None:
    async with embedded_client(store) as fhir:
        scope = PatientScope(fhir, A)
        with pytest.raises(ValueError, match="set by the patient scope"):
            await scope.search("Observation", {"subject": f"Patient/{B}"}, max_results=5)
        with pytest.raises(ValueError, match="set by the patient scope"):
            await scope.search("Observation", {"patient": B}, max_results=5)
        assert await scope.read_shared(f"Patient/{B}") is None
        assert await scope.read_shared("Observation/a1c-b") is None
        assert await scope.read_shared("http://evil.example/Medication/x") is None


def test_patient_id_must_be_an_id_not_a_reference() -> None:
    with pytest.raises(ValueError, match="not a valid FHIR id"):
        PatientScope(object(), "Patient/123")  # type: ignore[arg-type]
