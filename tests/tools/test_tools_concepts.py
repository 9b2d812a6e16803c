"""Concept resolution on real Synthea records, against truths computed from the bundle JSON.

Each test names a concept the way a clinician types it ("blood thinner", "kidney
function", "Plavix", "hospitalized"), computes from the raw JSON which resources are that
concept (with the test's own small lists, independent of the vocabularies under test),
and checks that ``resolve_concept`` finds exactly those in the right family, or, when the
record has none, that it says what it searched with the record's own counts.
"""

from __future__ import annotations

import re
from typing import Any

from tests.support.tools_datasets import Dataset, PatientRecord
from tools import make_toolset, run_tool
from tools.concepts import vocabularies

Resource = dict[str, Any]
DATASETS = ("fixtures", "hiv", "spezi")
MEDICATION_TYPES = ("MedicationRequest", "MedicationStatement", "MedicationAdministration")


def ref(resource: Resource) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def displays(concept: Any) -> str:
    """Every text and display of a CodeableConcept, lower case (the test's own reading)."""
    if not isinstance(concept, dict):
        return ""
    parts = [str(concept.get("text") or "")]
    parts += [str(c.get("display") or "") for c in concept.get("coding") or []]
    return " ".join(parts).lower()


def codes(concept: Any) -> set[str]:
    if not isinstance(concept, dict):
        return set()
    return {str(c.get("code")) for c in concept.get("coding") or []}


def drug_text(resource: Resource, dataset: Dataset) -> str:
    concept = resource.get("medicationCodeableConcept")
    if concept is None:
        target = (resource.get("medicationReference") or {}).get("reference", "")
        medication = dataset.shared.get(target) or {}
        concept = medication.get("code")
    return displays(concept)


def medication_orders(patient: PatientRecord) -> list[Resource]:
    return [r for t in MEDICATION_TYPES for r in patient.of(t)]


# The test's own list (British National Formulary chapter 2.8-2.9 names), not the vocabulary's.
BLOOD_THINNERS = ("warfarin", "heparin", "enoxaparin", "apixaban", "rivaroxaban", "dabigatran")
BLOOD_THINNERS += ("edoxaban", "clopidogrel", "prasugrel", "ticagrelor", "aspirin")


async def test_blood_thinner_finds_every_order_or_says_what_it_searched(
    dataset: Dataset, fhir: Any
) -> None:
    seen_orders = 0
    for patient in dataset.patients:
        truth = {
            ref(r)
            for r in medication_orders(patient)
            if any(d in drug_text(r, dataset) for d in BLOOD_THINNERS)
        }
        toolset = make_toolset(fhir, patient.id)
        resolution = await toolset.resolve_concept("pt on any blood thinners?")
        found = {r for m in resolution.matches_in("medications") for r in m.references}
        assert found == truth, patient.id
        if truth:
            seen_orders += len(truth)
            assert resolution.status == "found"
            continue
        assert resolution.status == "none_found"
        absence = resolution.absence()
        assert absence is not None
        orders = len(medication_orders(patient))
        assert "anticoagulant" in absence and "antiplatelet" in absence
        if orders:
            assert f"among {orders} medication orders" in absence
        else:
            assert "holds no medication orders" in absence
        assert "warfarin" in absence
    if dataset.name in ("fixtures", "hiv"):
        assert seen_orders, "the dataset holds anticoagulant/antiplatelet orders"


# LOINC codes of eGFR, creatinine and BUN, and the words their displays use.
KIDNEY_CODES = {"33914-3", "62238-1", "98979-8", "48642-3", "48643-1", "69405-9", "50044-7"}
KIDNEY_CODES |= {"38483-4", "2160-0", "6299-2", "3094-0"}
KIDNEY_WORDS = ("glomerular filtration", "creatinine [", "urea nitrogen")


async def test_kidney_function_resolves_to_egfr_creatinine_bun(dataset: Dataset, fhir: Any) -> None:
    for patient in dataset.patients:
        truth = {
            ref(o)
            for o in patient.of("Observation")
            if codes(o.get("code")) & KIDNEY_CODES
            or any(w in displays(o.get("code")) for w in KIDNEY_WORDS)
        }
        resolution = await make_toolset(fhir, patient.id).resolve_concept(
            "most recent kidney function"
        )
        assert resolution.understood
        assert not resolution.matches_in("conditions"), "a lab panel, not a problem"
        refs = {
            r for m in resolution.matches if m.family != "diagnostic_reports" for r in m.references
        }
        assert truth <= refs, patient.id
        assert all(r.startswith("Observation/") for r in refs)


async def test_covid_finds_the_condition_not_only_vaccines(dataset: Dataset, fhir: Any) -> None:
    checked = 0
    for patient in dataset.patients:
        conditions = {
            ref(c) for c in patient.of("Condition") if "covid-19" in displays(c.get("code"))
        }
        vaccines = {
            ref(i) for i in patient.of("Immunization") if "covid" in displays(i.get("vaccineCode"))
        }
        resolution = await make_toolset(fhir, patient.id).resolve_concept("did he have covid?")
        assert {r for m in resolution.matches_in("conditions") for r in m.references} == (
            conditions
        )
        assert vaccines <= {r for m in resolution.matches_in("immunizations") for r in m.references}
        checked += bool(conditions)
    if dataset.name != "hiv":
        assert checked, "some patient of the dataset had COVID-19"


async def test_brand_names_resolve_to_the_generic_orders(dataset: Dataset, fhir: Any) -> None:
    brands = {"plavix": "clopidogrel", "coumadin": "warfarin", "glucophage": "metformin"}
    brands |= {"zestril": "lisinopril", "zocor": "simvastatin", "tylenol": "acetaminophen"}
    for patient in dataset.patients:
        toolset = make_toolset(fhir, patient.id)
        for brand, generic in brands.items():
            truth = {
                r_
                for r_ in (
                    ref(r) for r in medication_orders(patient) if generic in drug_text(r, dataset)
                )
            }
            resolution = await toolset.resolve_concept(f"is he on {brand}?")
            found = {r for m in resolution.matches_in("medications") for r in m.references}
            assert found == truth, (patient.id, brand)
            assert resolution.understood
            assert any(generic in note for note in resolution.notes)


async def test_abbreviations_and_word_forms(dataset: Dataset, fhir: Any) -> None:
    for patient in dataset.patients:
        toolset = make_toolset(fhir, patient.id)
        classes = {ref(e): (e.get("class") or {}).get("code") for e in patient.of("Encounter")}
        inpatient = {r for r, c in classes.items() if c == "IMP"}
        emergency = {r for r, c in classes.items() if c == "EMER"}
        for question, truth in (
            ("Has the patient ever been hospitalized?", inpatient),
            ("ER visits", emergency),
        ):
            resolution = await toolset.resolve_concept(question)
            found = {
                r
                for m in resolution.matches_in("encounters")
                if m.role == "class"
                for r in m.references
            }
            assert found == truth, (patient.id, question)
            assert resolution.understood
        systolic = {
            ref(o)
            for o in patient.of("Observation")
            for c in o.get("component") or []
            if "8480-6" in codes(c.get("code"))
        }
        bp = await toolset.resolve_concept("highest BP reading")
        assert systolic <= set(bp.references)
        # Whole words: "Prediabetes" is not diabetes.
        diabetes = {
            ref(c)
            for c in patient.of("Condition")
            if re.search(r"\bdiabet", displays(c.get("code")))
        }
        diabetic = await toolset.resolve_concept("Is she diabetic?")
        assert diabetes <= set(diabetic.references)
        weights = {ref(o) for o in patient.of("Observation") if "29463-7" in codes(o.get("code"))}
        weigh = await toolset.resolve_concept("how much does she weigh")
        assert weights <= {r for m in weigh.matches_in("vitals") for r in m.references}
        assert all("weight" in m.name.lower() for m in weigh.matches)


async def test_social_findings_are_not_problems(dataset: Dataset, fhir: Any) -> None:
    for patient in dataset.patients:
        employment = {
            ref(c)
            for c in patient.of("Condition")
            if "employment" in displays(c.get("code")) and "(finding)" in displays(c.get("code"))
        }
        resolution = await make_toolset(fhir, patient.id).resolve_concept("employment")
        assert employment == {
            r
            for m in resolution.matches
            if m.role == "code" and m.family == "social_history"
            for r in m.references
            if r.startswith("Condition/")
        }
        assert not {r for m in resolution.matches_in("conditions") for r in m.references} & (
            employment
        )


async def test_unknown_words_are_not_claimed_absent(dataset: Dataset, fhir: Any) -> None:
    patient = dataset.patients[0]
    toolset = make_toolset(fhir, patient.id)
    resolution = await toolset.resolve_concept("flux capacitor")
    assert resolution.status == "not_understood"
    assert resolution.absence() is None
    result = await run_tool(toolset, "find_concept", {"name": "flux capacitor"})
    assert not result.items
    assert "nothing can be said about its absence" in result.render()


async def test_find_concept_respects_the_period_and_cites(dataset: Dataset, fhir: Any) -> None:
    def weights(patient: PatientRecord) -> list[Resource]:
        return [o for o in patient.of("Observation") if "weight" in displays(o.get("code"))]

    patient = max(dataset.patients, key=lambda p: len(weights(p)))
    truth = {ref(o) for o in weights(patient)}
    toolset = make_toolset(fhir, patient.id)
    every = await run_tool(toolset, "find_concept", {"name": "weight", "limit": 200})
    assert truth <= set(every.references)
    dates = sorted(e.date or "" for e in every.evidence)
    middle = dates[len(dates) // 2][:4]
    windowed = await run_tool(
        toolset, "find_concept", {"name": "weight", "since": middle, "until": middle}
    )
    assert windowed.evidence
    assert all((e.date or "").startswith(middle) for e in windowed.evidence)
    assert len(windowed.evidence) == sum(d.startswith(middle) for d in dates)
    by_ref = {ref(r) for t in patient.by_type.values() for r in t}
    assert set(every.references) <= by_ref
    capped = await run_tool(toolset, "find_concept", {"name": "weight", "limit": 1})
    assert capped.total_available == len(every.evidence)
    if len(every.evidence) > 1:  # a capped list says how many exist
        assert capped.truncated
        assert f"of {len(every.evidence)}; more exist" in capped.render()


async def test_fallback_without_everything_finds_the_same(dataset: Dataset, fhir: Any) -> None:
    class NoEverything:
        """The client without Patient/$everything (a minimal or restricted server)."""

        def __init__(self, client: Any) -> None:
            self.read, self.search, self.count = client.read, client.search, client.count

    patient = dataset.patients[0]
    direct = await make_toolset(fhir, patient.id).resolve_concept("kidney function")
    fallback_toolset = make_toolset(NoEverything(fhir), patient.id)  # type: ignore[arg-type]
    fallback = await fallback_toolset.resolve_concept("kidney function")
    assert (await fallback_toolset.record()).source == "searches"
    assert set(fallback.references) == set(direct.references)


def test_every_vocabulary_records_its_source() -> None:
    sources = vocabularies().sources
    assert len(sources) == 7
    assert all(len(text) > 20 for text in sources.values())
