"""Every tool on real Synthea records: the record itself (overview, conditions, medications,
allergies), results (HbA1c, labs by a clinician's name or a local code, vital signs, blood
pressure), notes, care plans, billing, and that no tool returns another patient's data.

Each test picks a patient by a fact of the JSON (e.g. "most HbA1c results"), computes the
expected resources from the JSON directly, and asserts the tool returns exactly those
references through the real FHIR facade, on each dataset below and, on our fixtures, on a
real HAPI FHIR server too (``tests/support/tools_on_synthea.py``).
"""

from __future__ import annotations

import base64
import re
from datetime import date
from typing import Any

import pytest

from tests.support.tools_datasets import Dataset, PatientRecord
from tests.support.tools_on_synthea import (
    codes,
    fhir,
    hapi_url,
    most,
    names,
    newest_dates,
    observations_with,
    ref,
    result_dates,
    toolset,
    when,
)
from tools import run_tool

Resource = dict[str, Any]

DATASETS = ("fixtures", "hiv", "spezi")

__all__ = ["fhir", "hapi_url"]  # fixtures used here by name


async def test_patient_overview_states_demographics_and_age(dataset: Dataset, fhir: Any) -> None:
    for record in dataset.patients:
        result = await toolset(fhir, record).patient_overview()
        patient = record.patient
        assert result.references == [ref(patient)]
        line = result.items[0].text
        assert patient["gender"] in line
        assert f"born {patient['birthDate']}" in line
        assert patient["name"][0]["family"] in line
        born = date.fromisoformat(patient["birthDate"])
        died = patient.get("deceasedDateTime")
        end = date.fromisoformat(died[:10]) if died else date.today()
        age = end.year - born.year - ((end.month, end.day) < (born.month, born.day))
        assert f"age {age}" in line
        assert ("deceased" in line) == bool(died)


async def test_conditions_by_status_match_clinical_status(dataset: Dataset, fhir: Any) -> None:
    record = most(dataset, lambda r: len(r.of("Condition")))
    tools = toolset(fhir, record)
    status_of = {
        c["id"]: next(iter(codes(c.get("clinicalStatus")))) for c in record.of("Condition")
    }
    active = {f"Condition/{i}" for i, s in status_of.items() if s in ("active", "recurrence")}
    resolved = {f"Condition/{i}" for i, s in status_of.items() if s in ("resolved", "inactive")}
    assert set((await tools.conditions("active", limit=200)).references) == active
    assert set((await tools.conditions("resolved", limit=200)).references) == resolved
    everything = await tools.conditions("all", limit=200)
    assert len(everything.references) == len(status_of)


async def test_conditions_by_name_and_code(dataset: Dataset, fhir: Any) -> None:
    record = most(dataset, lambda r: len(r.of("Condition")))
    condition = max(record.of("Condition"), key=when)
    word = re.split(r"[^A-Za-z]+", condition["code"]["coding"][0]["display"])[0]
    expected = {ref(c) for c in record.of("Condition") if word.lower() in names(c.get("code"))}
    by_name = await toolset(fhir, record).conditions("all", name=word, limit=200)
    assert ref(condition) in by_name.references
    assert set(by_name.references) <= expected
    code = condition["code"]["coding"][0]["code"]
    same_code = {ref(c) for c in record.of("Condition") if code in codes(c.get("code"))}
    by_code = await toolset(fhir, record).conditions("all", code=code, limit=200)
    assert set(by_code.references) == same_code


async def test_active_medications_with_names_resolved(dataset: Dataset, fhir: Any) -> None:
    record = most(dataset, lambda r: len(r.of("MedicationRequest")))
    requests = record.of("MedicationRequest")
    expected = {ref(m) for m in requests if m["status"] == "active"}
    result = await toolset(fhir, record).medications("active", limit=200)
    assert set(result.references) == expected
    for evidence in result.evidence:
        request = evidence.resource
        concept = request.get("medicationCodeableConcept")
        if concept is None:  # medicationReference: the tool must have read the Medication.
            medication = dataset.shared[request["medicationReference"]["reference"]]
            concept = medication["code"]
        assert concept["text"][:20] in evidence.text


async def test_stopped_medications_list_every_order(dataset: Dataset, fhir: Any) -> None:
    record = most(dataset, lambda r: len(r.of("MedicationRequest")))
    stopped = [m for m in record.of("MedicationRequest") if m["status"] == "stopped"]
    if not stopped:
        pytest.skip("no stopped medication")
    result = await toolset(fhir, record).medications("stopped", limit=200)
    newest = {ref(m) for m in stopped if when(m)[:10] == max(when(s)[:10] for s in stopped)}
    assert newest & set(result.references)
    assert set(result.references) <= {ref(m) for m in stopped}
    assert len(result.references) == min(200, len(stopped))


async def test_allergies_are_the_active_allergy_records(dataset: Dataset, fhir: Any) -> None:
    record = most(dataset, lambda r: len(r.of("AllergyIntolerance")))
    expected = {
        ref(a)
        for a in record.of("AllergyIntolerance")
        if codes(a.get("clinicalStatus")) & {"active"} or "clinicalStatus" not in a
    }
    result = await toolset(fhir, record).allergies()
    assert set(result.references) == expected
    for evidence in result.evidence:
        assert evidence.resource["code"]["coding"][0]["display"].split(" (")[0] in evidence.text


HBA1C = {"4548-4"}


async def test_latest_hba1c_value_and_date(dataset: Dataset, fhir: Any) -> None:
    record = most(dataset, lambda r: len(observations_with(r, HBA1C)))
    a1cs = observations_with(record, HBA1C)
    latest = max(a1cs, key=when)
    for name in ("A1c", "HbA1c", "hemoglobin a1c", "Haemoglobin A1c", "4548-4"):
        result = await toolset(fhir, record).lab_results(name)
        assert len(result.evidence) == 1, name
        evidence = result.evidence[0]
        assert evidence.date == when(latest)[:10]
        assert evidence.reference in {ref(o) for o in a1cs if when(o) == when(latest)}
        value = latest["valueQuantity"]["value"]
        assert f"{value:g}" in evidence.text or f"{round(value, 2):g}" in evidence.text


async def test_first_and_series_of_hba1c(dataset: Dataset, fhir: Any) -> None:
    record = most(dataset, lambda r: len(observations_with(r, HBA1C)))
    a1cs = observations_with(record, HBA1C)
    first = await toolset(fhir, record).lab_results("a1c", mode="first")
    assert first.evidence[0].date == min(when(o) for o in a1cs)[:10]
    series = await toolset(fhir, record).lab_results("a1c", mode="series", limit=5)
    assert sorted(result_dates(series), reverse=True) == newest_dates(a1cs, 5)
    assert set(series.references) <= {ref(o) for o in a1cs}
    assert series.truncated == (len(a1cs) > 5)
    if len(a1cs) > 5:
        assert series.total_available == len(a1cs)
    if len(series.references) >= 2:  # one series line keeps every citation
        assert len(series.items) == 1
        assert all(f"[{r}]" in series.items[0].line for r in series.references)


LABS_BY_NAME = {
    "LDL": {"18262-6"},
    "eGFR": {"33914-3"},
    "creatinine": {"38483-4", "2160-0"},
    "glucose": {"2339-0", "2345-7"},
    "total cholesterol": {"2093-3"},
    "potassium": {"6298-4", "2823-3"},
    "hemoglobin": {"718-7"},
    "platelets": {"777-3"},
}


@pytest.mark.parametrize("name", sorted(LABS_BY_NAME))
async def test_common_labs_by_clinician_name(dataset: Dataset, fhir: Any, name: str) -> None:
    loinc = LABS_BY_NAME[name]
    record = most(dataset, lambda r: len(observations_with(r, loinc)))
    found = observations_with(record, loinc)
    result = await toolset(fhir, record).lab_results(name)
    latest = max(when(o) for o in found)
    assert result.references[0] in {ref(o) for o in found if when(o) == latest}


VITALS = {"weight": "29463-7", "BMI": "39156-5", "heart rate": "8867-4", "height": "8302-2"}


@pytest.mark.parametrize("name", sorted(VITALS))
async def test_vital_signs_latest(dataset: Dataset, fhir: Any, name: str) -> None:
    loinc = {VITALS[name]}
    record = most(dataset, lambda r: len(observations_with(r, loinc)))
    found = observations_with(record, loinc)
    latest = max(found, key=when)
    result = await toolset(fhir, record).vital_signs(name)
    assert result.references[0] in {ref(o) for o in found if when(o) == when(latest)}


async def test_blood_pressure_shows_systolic_over_diastolic(dataset: Dataset, fhir: Any) -> None:
    record = most(dataset, lambda r: len(observations_with(r, {"85354-9"})))
    panels = observations_with(record, {"85354-9"})
    result = await toolset(fhir, record).vital_signs("blood pressure", mode="series", limit=3)
    by_ref = {ref(p): p for p in panels}
    assert sorted(result_dates(result), reverse=True) == newest_dates(panels, 3)
    for evidence in result.evidence:
        components = {
            c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"]
            for c in by_ref[evidence.reference]["component"]
        }
        expected = f"{components['8480-6']:g}/{components['8462-4']:g}"
        assert expected in result.render()


async def test_lab_under_local_code_found_by_display(dataset: Dataset, fhir: Any) -> None:
    def viral(r: PatientRecord) -> list[Resource]:
        return [o for o in r.of("Observation") if "viral load" in names(o.get("code"))]

    record = most(dataset, lambda r: len(viral(r)))
    latest = max(when(o) for o in viral(record))
    result = await toolset(fhir, record).lab_results("viral load")
    assert result.references[0] in {ref(o) for o in viral(record) if when(o) == latest}


def _note_text(resource: Resource) -> str:
    attachments = [c["attachment"] for c in resource.get("content", [])]
    return "".join(base64.b64decode(a["data"]).decode() for a in attachments if "data" in a)


async def test_clinical_notes_keyword_snippets(dataset: Dataset, fhir: Any) -> None:
    keyword = "smoke"
    record = most(
        dataset,
        lambda r: sum(keyword in _note_text(d).lower() for d in r.of("DocumentReference")),
    )
    notes = [d for d in record.of("DocumentReference") if keyword in _note_text(d).lower()]
    newest = max(notes, key=when)
    result = await toolset(fhir, record).clinical_notes([keyword], limit=3)
    assert result.evidence[0].date == when(newest)[:10]
    for evidence in result.evidence:
        assert keyword in evidence.text.lower()
        assert len(evidence.text) < 320  # a snippet, not the note
    absent = await toolset(fhir, record).clinical_notes(["zzqxnotaword"])
    assert absent.references == []


async def test_active_care_plans(dataset: Dataset, fhir: Any) -> None:
    record = most(dataset, lambda r: len(r.of("CarePlan")))
    expected = {ref(p) for p in record.of("CarePlan") if p["status"] == "active"}
    result = await toolset(fhir, record).care_plans()
    assert set(result.references) == expected


async def test_no_tool_returns_another_patients_data(dataset: Dataset, fhir: Any) -> None:
    """Every reference any tool returns is one of the bound patient's own resources."""
    calls: list[tuple[str, dict[str, Any]]] = [
        ("patient_overview", {}),
        ("conditions", {"status": "all", "limit": 200}),
        ("medications", {"status": "all", "limit": 200}),
        ("allergies", {"status": "all"}),
        ("immunizations", {"limit": 100}),
        ("lab_results", {"name": "creatinine", "mode": "series", "limit": 50}),
        ("lab_results", {"name": "viral load", "mode": "series", "limit": 50}),
        ("vital_signs", {"name": "blood pressure", "mode": "series", "limit": 50}),
        ("encounters", {"limit": 100}),
        ("procedures", {"limit": 100}),
        ("clinical_notes", {"keywords": ["patient"], "limit": 20}),
        ("care_plans", {"status": "all"}),
        ("goals", {"status": "all"}),
        ("billing", {"limit": 50}),
    ]
    for record in dataset.patients:
        own = {ref(r) for resources in record.by_type.values() for r in resources}
        tools = toolset(fhir, record)
        for name, arguments in calls:
            result = await run_tool(tools, name, arguments)
            stray = set(result.references) - own
            assert not stray, f"{name} returned another patient's {stray}"


async def test_billing_only_on_request_newest_first(dataset: Dataset, fhir: Any) -> None:
    def bills(r: PatientRecord) -> list[Resource]:
        return r.of("Claim") + r.of("ExplanationOfBenefit")

    record = most(dataset, lambda r: len(bills(r)))
    starts = sorted((b["billablePeriod"]["start"][:10] for b in bills(record)), reverse=True)
    result = await toolset(fhir, record).billing(limit=10)
    assert result_dates(result) == starts[:10]
    assert set(result.references) <= {ref(b) for b in bills(record)}
    assert result.truncated == (len(starts) > 10)
