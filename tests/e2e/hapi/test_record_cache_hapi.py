"""A remote server's records are kept across questions and read again after any write
(agent.record_cache: keyed by the server's newest ``_history`` entry).

Real parts: a real HAPI FHIR JPA server holding the committed Synthea fixtures, the real
graph on the rule path, the real HTTP client; reads counted by its request observer.
The test's own Condition is created, then deleted, so the server's searchable content is
the fixtures' again afterwards (other suites compare it with the embedded store).
"""

from __future__ import annotations

import httpx
import pytest

from agent import build_graph, open_checkpointer
from agent.assistant import Assistant
from fhir_client.client import FhirClient
from fhir_client.observe import RequestObservation

pytestmark = pytest.mark.hapi

GOUT = {
    "coding": [{"system": "http://snomed.info/sct", "code": "90560007", "display": "Gout"}],
    "text": "Gout",
}
CONDITION_ID = "record-cache-gout"


def _record_reads(seen: list[RequestObservation]) -> int:
    """Whole-record reads: first pages of ``$everything`` (HAPI's later pages are
    ``_getpages`` links)."""
    return sum("$everything" in o.path and "_getpages" not in o.path for o in seen)


def _gout(patient_id: str) -> dict[str, object]:
    return {
        "resourceType": "Condition",
        "id": CONDITION_ID,
        "subject": {"reference": f"Patient/{patient_id}"},
        "code": GOUT,
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "onsetDateTime": "2024-06-01",
    }


async def test_a_remote_record_is_reused_until_a_write_or_delete_on_the_server(
    hapi_with_fixtures: str,
) -> None:
    async with FhirClient(hapi_with_fixtures, timeout=600) as client:
        patients = await client.search("Patient", {"_count": "1"}, max_results=1)
        patient_id = str(patients[0]["id"])
        seen: list[RequestObservation] = []
        client.add_observer(seen.append)
        target = f"Condition/{CONDITION_ID}"
        async with open_checkpointer(":memory:") as saver:
            assistant = Assistant(client, build_graph(checkpointer=saver), model="none")
            first = await assistant.ask(patient_id, "Does the patient have gout?")
            reads = _record_reads(seen)
            assert reads >= 1, "a concept question reads the record"
            assert target not in {c.reference for c in first.citations}

            again = await assistant.ask(patient_id, "Is the gout under control?")
            assert again.answer
            assert _record_reads(seen) == reads, "the second question reused the kept record"
            assert any(o.path.startswith("_history") for o in seen), "freshness was checked"

            await client.update(_gout(patient_id))  # a write on the server
            try:
                after = await assistant.ask(patient_id, "Does the patient have gout?")
                assert _record_reads(seen) == reads + 1, "after the write: read again"
                assert target in {c.reference for c in after.citations}, after.answer
            finally:
                async with httpx.AsyncClient() as http:  # FhirClient has no delete
                    gone = await http.delete(f"{hapi_with_fixtures}/{target}")
                    assert gone.status_code in (200, 204), gone.text

            deleted = await assistant.ask(patient_id, "Does the patient have gout?")
            assert _record_reads(seen) == reads + 2, "a deletion is a write too: read again"
            assert target not in {c.reference for c in deleted.citations}, deleted.answer
