"""Periods, extremes, thresholds and visits on real Synthea records, truths from the JSON.

"What was prescribed in 2019", "highest BP", "how many times was HbA1c above 7", "what
happened at the last visit": each expected answer is computed from the bundle JSON by the
test's own reading, then asked of the tools through the real FHIR facade.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from tests.support.tools_datasets import Dataset, PatientRecord
from tools import make_toolset, run_tool

Resource = dict[str, Any]


DATASETS = ("fixtures", "hiv")
"""The Synthea sets the ``dataset`` fixture (tests/conftest.py) loads, one run each."""


def ref(resource: Resource) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def codes(concept: Any) -> set[str]:
    return {str(c.get("code")) for c in (concept or {}).get("coding") or []}


def a1c(patient: PatientRecord) -> list[tuple[float, Resource]]:
    return [
        (float(o["valueQuantity"]["value"]), o)
        for o in patient.of("Observation")
        if "4548-4" in codes(o.get("code")) and "valueQuantity" in o
    ]


def systolic(observation: Resource) -> float | None:
    for component in observation.get("component") or []:
        if "8480-6" in codes(component.get("code")):
            return float(component["valueQuantity"]["value"])
    return None


async def test_highest_lowest_and_threshold_counts(dataset: Dataset, fhir: Any) -> None:
    patient = max(dataset.patients, key=lambda p: len(a1c(p)))
    values = a1c(patient)
    if not values:
        pytest.skip(f"no HbA1c results in {dataset.name}")
    toolset = make_toolset(fhir, patient.id)
    for mode, pick in (("highest", max), ("lowest", min)):
        result = await run_tool(toolset, "lab_results", {"name": "HbA1c", "mode": mode})
        best = pick(v for v, _ in values)
        assert [e.reference for e in result.evidence] in (
            [[ref(o)] for v, o in values if v == best]
        )
        assert f"of {len(values)} numeric result(s)" in result.summary
    threshold = sorted(v for v, _ in values)[len(values) // 2]
    above = await run_tool(
        toolset, "lab_results", {"name": "A1c", "above": threshold, "mode": "series", "limit": 50}
    )
    expected = {ref(o) for v, o in values if v > threshold}
    assert above.total_available == len(expected)
    assert set(above.references) == expected


async def test_highest_blood_pressure_is_by_systolic(dataset: Dataset, fhir: Any) -> None:
    def readings(p: PatientRecord) -> list[tuple[float, Resource]]:
        return [(s, o) for o in p.of("Observation") if (s := systolic(o)) is not None]

    patient = max(dataset.patients, key=lambda p: len(readings(p)))
    values = readings(patient)
    if not values:
        pytest.skip(f"no blood pressure readings in {dataset.name}")
    result = await run_tool(
        make_toolset(fhir, patient.id), "vital_signs", {"name": "blood pressure", "mode": "highest"}
    )
    best = max(v for v, _ in values)
    assert result.references[0] in {ref(o) for v, o in values if v == best}
    assert "(systolic)" in result.summary


async def test_medications_in_a_year_include_stopped_orders(dataset: Dataset, fhir: Any) -> None:
    checked = 0
    for patient in dataset.patients:
        years = Counter(str(m.get("authoredOn", ""))[:4] for m in patient.of("MedicationRequest"))
        if not years:
            continue
        year = years.most_common(1)[0][0]
        expected = {
            ref(m)
            for m in patient.of("MedicationRequest")
            if str(m.get("authoredOn", "")).startswith(year)
        }
        toolset = make_toolset(fhir, patient.id)
        window = {"since": year, "until": year, "limit": 200}
        result = await run_tool(toolset, "medications", {**window, "window": "written"})
        assert set(result.references) == expected, (patient.id, year)
        assert result.total_available == len(expected)
        assert year in result.summary
        # The default also keeps current orders written before the year: taken in it too.
        current = {
            ref(m)
            for m in patient.of("MedicationRequest")
            if m.get("status") == "active" and str(m.get("authoredOn", ""))[:4] < year
        }
        taken = await run_tool(toolset, "medications", window)
        assert set(taken.references) == expected | current, (patient.id, year)
        checked += 1
    assert checked


async def test_conditions_by_onset_period(dataset: Dataset, fhir: Any) -> None:
    patient = max(dataset.patients, key=lambda p: len(p.of("Condition")))
    years = Counter(str(c.get("onsetDateTime", ""))[:4] for c in patient.of("Condition"))
    year = years.most_common(1)[0][0]
    expected = {
        ref(c) for c in patient.of("Condition") if str(c.get("onsetDateTime", "")).startswith(year)
    }
    result = await run_tool(
        make_toolset(fhir, patient.id), "conditions", {"since": year, "until": year, "limit": 200}
    )
    assert set(result.references) == expected


def encounter_refs(resource: Resource) -> set[str]:
    refs = {str((resource.get("encounter") or {}).get("reference", ""))}
    for item in (resource.get("context") or {}).get("encounter") or []:
        refs.add(str(item.get("reference", "")))
    return refs - {""}


async def test_last_visit_lists_everything_attached_and_why(dataset: Dataset, fhir: Any) -> None:
    for patient in dataset.patients[:4]:
        encounters = sorted(patient.of("Encounter"), key=lambda e: e["period"]["start"])
        last = encounters[-1]
        key = ref(last)
        attached = {
            ref(r)
            for rs in patient.by_type.values()
            for r in rs
            if key in encounter_refs(r)
            and r["resourceType"] != "Claim"
            and r["resourceType"] not in ("ExplanationOfBenefit", "Provenance")
        }
        reasons = {
            str(r.get("reference"))
            for r in last.get("reasonReference") or []
            if str(r.get("reference", "")).startswith("Condition/")
        }
        result = await run_tool(make_toolset(fhir, patient.id), "visit", {"limit": 200})
        assert result.references[0] == key
        assert set(result.references) == {key} | attached | reasons, patient.id
        if last.get("reasonCode"):
            assert "Reason for visit" in result.render()
        first = await run_tool(make_toolset(fhir, patient.id), "visit", {"which": "first"})
        assert first.references[0] == ref(encounters[0])


async def test_visit_on_a_day_and_of_a_type(dataset: Dataset, fhir: Any) -> None:
    for patient in dataset.patients:
        inpatient = [e for e in patient.of("Encounter") if e["class"]["code"] == "IMP"]
        if not inpatient:
            continue
        latest = max(inpatient, key=lambda e: e["period"]["start"])
        toolset = make_toolset(fhir, patient.id)
        result = await run_tool(toolset, "visit", {"encounter_type": "hospitalization"})
        assert result.references[0] == ref(latest)
        day = latest["period"]["start"][:10]
        same_day = await run_tool(toolset, "visit", {"since": day, "until": day})
        assert same_day.evidence[0].date == day
        return
    pytest.skip(f"no inpatient encounter in {dataset.name}")


async def test_why_an_order_was_written(dataset: Dataset, fhir: Any) -> None:
    checked = 0
    for patient in dataset.patients:
        conditions = {ref(c): c for c in patient.of("Condition")}
        for order in patient.of("MedicationRequest"):
            drug = (order.get("medicationCodeableConcept") or {}).get("coding", [{}])[0]
            targets = [str(r.get("reference")) for r in order.get("reasonReference") or []]
            reasons = [conditions[t] for t in targets if t in conditions]
            if not drug.get("display") or not reasons:
                continue
            word = re.findall(r"[A-Za-z]{5,}", drug["display"])[0]
            reason = re.sub(r"\s*\([a-z ]+\)$", "", reasons[0]["code"]["coding"][0]["display"])
            result = await run_tool(
                make_toolset(fhir, patient.id), "find_concept", {"name": word, "limit": 200}
            )
            why = [e for e in result.evidence if e.text.split(" ", 1)[-1].startswith("Reason for")]
            assert any(reason in e.text for e in why), (patient.id, word, reason)
            assert all(e.reference.startswith("MedicationRequest/") for e in why)
            checked += 1
            break
        if checked >= 3:
            return
    if dataset.name == "fixtures":
        assert checked, "fixtures hold orders with a reason"
