"""Every tool on real Synthea records: histories (vaccines, encounters, procedures, the
orders of a drug, the care team) newest first, and whole windows, all returned and counted.

Each test picks a patient by a fact of the JSON (e.g. "most HbA1c results"), computes the
expected resources from the JSON directly, and asserts the tool returns exactly those
references through the real FHIR facade, on each dataset below and, on our fixtures, on a
real HAPI FHIR server too (``tests/support/tools_on_synthea.py``).
"""

from __future__ import annotations

from typing import Any

from tests.support.tools_datasets import Dataset, PatientRecord
from tests.support.tools_on_synthea import (
    fhir,
    hapi_url,
    most,
    names,
    newest_dates,
    ref,
    result_dates,
    toolset,
    when,
)
from tools import EvidenceSeries, run_tool

Resource = dict[str, Any]

DATASETS = ("fixtures", "hiv", "spezi")

__all__ = ["fhir", "hapi_url"]  # fixtures used here by name


async def test_last_influenza_vaccine(dataset: Dataset, fhir: Any) -> None:
    def flu(r: PatientRecord) -> list[Resource]:
        return [i for i in r.of("Immunization") if "influenza" in names(i.get("vaccineCode"))]

    record = most(dataset, lambda r: len(flu(r)))
    latest = max(when(i) for i in flu(record))
    result = await toolset(fhir, record).immunizations("flu shot", limit=1)
    assert result.references and result.evidence[0].date == latest[:10]
    assert result.references[0] in {ref(i) for i in flu(record) if when(i) == latest}
    assert result.truncated == (len(flu(record)) > 1)
    since = sorted(when(i) for i in flu(record))[len(flu(record)) // 2][:10]
    windowed = await toolset(fhir, record).immunizations("influenza", since=since, limit=100)
    assert set(windowed.references) == {ref(i) for i in flu(record) if when(i)[:10] >= since}


async def test_encounters_newest_first_and_by_type(dataset: Dataset, fhir: Any) -> None:
    record = most(dataset, lambda r: len(r.of("Encounter")))
    encounters = record.of("Encounter")
    result = await toolset(fhir, record).encounters(limit=5)
    assert result_dates(result) == newest_dates(encounters, 5)
    assert set(result.references) <= {ref(e) for e in encounters}
    emergency = [e for e in encounters if e["class"]["code"] == "EMER"]
    typed = await toolset(fhir, record).encounters("emergency", limit=100)
    assert {ref(e) for e in emergency} <= set(typed.references)


async def test_procedures_newest_first_and_by_name(dataset: Dataset, fhir: Any) -> None:
    record = most(dataset, lambda r: len(r.of("Procedure")))
    procedures = record.of("Procedure")
    result = await toolset(fhir, record).procedures(limit=5)
    assert result_dates(result) == newest_dates(procedures, 5)
    target = max(procedures, key=when)
    word = target["code"]["coding"][0]["display"].split()[0]
    named = await toolset(fhir, record).procedures(word, limit=100)
    assert ref(target) in named.references
    assert all(word.lower() in names(e.resource.get("code")) for e in named.evidence)


def _busiest_year(resources: list[Resource]) -> tuple[str, int]:
    years = [when(r)[:4] for r in resources if when(r)]
    best = max(sorted(set(years)), key=years.count, default="")
    return best, years.count(best)


async def test_encounters_in_a_year_are_all_returned_and_counted(
    dataset: Dataset, fhir: Any
) -> None:
    record = most(dataset, lambda r: _busiest_year(r.of("Encounter"))[1])
    year, count = _busiest_year(record.of("Encounter"))
    expected = {ref(e) for e in record.of("Encounter") if when(e).startswith(year)}
    window = {"since": f"{year}-01-01", "until": f"{year}-12-31"}
    result = await toolset(fhir, record).encounters(limit=200, **window)
    assert set(result.references) == expected and len(expected) == count
    assert result.total_available == count and not result.truncated
    # A page smaller than the window is truncated, and the total is still the count.
    if count > 1:
        small = await toolset(fhir, record).encounters(limit=1, **window)
        assert small.truncated and small.total_available == count


async def test_procedures_in_a_year_are_all_returned(dataset: Dataset, fhir: Any) -> None:
    record = most(dataset, lambda r: _busiest_year(r.of("Procedure"))[1])
    year, count = _busiest_year(record.of("Procedure"))
    result = await toolset(fhir, record).procedures(
        since=f"{year}-01-01", until=f"{year}-12-31", limit=200
    )
    expected = {ref(p) for p in record.of("Procedure") if when(p).startswith(year)}
    assert set(result.references) == expected and result.total_available == count


async def test_vaccine_history_lists_every_vaccine_with_every_dose(
    dataset: Dataset, fhir: Any
) -> None:
    record = most(dataset, lambda r: len(r.of("Immunization")))
    doses = record.of("Immunization")
    result = await toolset(fhir, record).immunizations(limit=200)
    assert set(result.references) == {ref(i) for i in doses}
    # One line per vaccine: no vaccine appears on two lines.
    labels = [item.text.split(":")[0] for item in result.items]
    assert len(labels) == len(set(labels))
    for item in result.items:
        assert isinstance(item, EvidenceSeries)
        assert [p.date for p in item.points] == sorted(p.date or "" for p in item.points)
        assert len({p.label for p in item.points}) == 1


def _drug_name(record: PatientRecord, order: Resource) -> str:
    concept = order.get("medicationCodeableConcept")
    if concept is None:
        target = order["medicationReference"]["reference"]
        medication = next(
            (m for m in record.of("Medication") if f"Medication/{m.get('id')}" == target), {}
        )
        concept = medication.get("code") or {}
    return str(concept.get("text") or concept["coding"][0]["display"])


async def test_first_order_of_a_drug_whatever_its_status(dataset: Dataset, fhir: Any) -> None:
    def repeated(r: PatientRecord) -> int:
        orders = r.of("MedicationRequest")
        return len(orders) - len({_drug_name(r, o) for o in orders})

    record = most(dataset, repeated)
    orders = sorted(record.of("MedicationRequest"), key=when)
    names = [_drug_name(record, o) for o in orders]
    drug = max(sorted(set(names)), key=names.count)
    first = orders[names.index(drug)]
    result = await toolset(fhir, record).medications(name=drug, mode="first")
    assert [e.date for e in result.evidence] == [when(first)[:10]]
    assert when(result.evidence[0].resource) == when(first)


async def test_care_team_lists_every_clinician_and_provider_seen(
    dataset: Dataset, fhir: Any
) -> None:
    """One line per distinct encounter practitioner and service provider, each citing
    only the patient's own encounters and care teams beside the shared resource; no PCP
    is called one unless the Patient names a generalPractitioner."""
    for record in dataset.patients:
        encounters = record.of("Encounter")
        people = {
            p["individual"]["reference"]
            for e in encounters
            for p in e.get("participant", [])
            if "individual" in p
        }
        providers = {
            e["serviceProvider"]["reference"] for e in encounters if "serviceProvider" in e
        }
        result = await run_tool(toolset(fhir, record), "care_team", {"limit": 50})
        kinds = [item.text.split(": ", 1)[0].rsplit("(", 1)[-1] for item in result.items]
        assert kinds.count("practitioner)") >= len(people), record.id
        assert kinds.count("organization)") >= len(providers), record.id
        own = {ref(r) for resources in record.by_type.values() for r in resources}
        for reference in result.references:
            kind = reference.split("/", 1)[0]
            assert reference in own or kind in ("Practitioner", "Organization"), reference
        designated = bool(record.patient.get("generalPractitioner"))
        assert result.notes[0].startswith(
            "The record names" if designated else "The record does not"
        )
