"""Social history, physical therapy, dental visits and insurance, asked as clinicians ask:
on the fixture patients, with no model, expectations computed here from the bundle JSON.

Before: "does he drink alcohol?" said "No result named 'Alcohol Use Disorder
Identification Test - Consumption'" (a report's display cut to fit, searched by name)
while the record held AUDIT-C total scores (LOINC 75626-2); "any physical therapy?"
answered with a survey question about feeling physically safe; "has she had PT?" said
"Yes" with the patient's demographics; "when was his last physical" could cite a dental
check-up (Synthea types both "Encounter for check up"); "who is his insurer?" said "No
result named 'Primary insurance'".  Now alcohol and smoking are answered by the newest
screening result, found by code; physical therapy is searched in procedures, visits and
care plans, its absence stated with what was searched; a physical excludes dental
visits, which "last dental visit" and "saw the dentist" find; and the payers the claims
name are listed with the patient's own survey answer, each cited.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from agent.planner.rules import plan_question
from agent.reading import read_question
from agent.reading.shorthand import expand_shorthand
from fhir_client import FhirClient
from tests.support import agent_truth as truth
from tests.support.agent_ask import ask_agent
from tests.support.tools_datasets import Dataset, PatientRecord

Resource = dict[str, Any]
DATASETS = ("fixtures",)

ALCOHOL = [
    "does he drink alcohol?",
    "alcohol use?",
    "how much does she drink",
    "does she drink",
    "is he a drinker",
    "etoh?",
]
SMOKING = ["does he smoke?", "tobacco use", "smoking status", "is she a smoker?"]
PHYSIO = [
    "any physical therapy?",
    "has she had PT?",
    "physiotherapy",
    "any physio?",
    "has he been referred to PT",
    "did she get PT",
]
PT_MEANS_PATIENT_OR_A_LAB = ["pt w/ AF?", "does pt smoke?", "latest PT/INR", "last PT result"]
PHYSICAL = ["when was his last physical", "last checkup?", "date of her most recent physical"]
DENTAL = [
    "last dental visit",
    "when did he last see the dentist",
    "most recent dental check-up",
    "when was her last dentist appointment",
]
DENTAL_COUNT = ["how many dental visits has she had", "number of dental exams"]
INSURANCE = [
    "who is his insurer?",
    "does he have insurance?",
    "what's her payer",
    "insurance?",
    "is she insured",
    "what coverage does he have",
]
AUDIT_C, SMOKING_STATUS = "75626-2", "72166-2"


# ------------------------------------------------------------------ reading and plan


@pytest.mark.parametrize("question", PHYSIO)
def test_pt_and_physio_read_as_physiotherapy(question: str) -> None:
    assert "physiotherapy" in expand_shorthand(question), expand_shorthand(question)


@pytest.mark.parametrize("question", PT_MEANS_PATIENT_OR_A_LAB)
def test_pt_as_the_patient_or_a_prothrombin_time_is_left_alone(question: str) -> None:
    assert "physiotherapy" not in expand_shorthand(question)


def _kinds(question: str) -> list[Any]:
    calls = plan_question(question).calls
    return [c["arguments"].get("encounter_type") for c in calls if c["tool"] == "encounters"]


@pytest.mark.parametrize("question", [*DENTAL, *DENTAL_COUNT])
def test_dental_visits_plan_dental_encounters(question: str) -> None:
    assert _kinds(question) == ["dental"], plan_question(question).calls


def test_a_dental_procedure_or_x_ray_is_no_visit_question() -> None:
    for question in ("dental x-ray?", "what dental procedures has he had"):
        assert _kinds(question) == [], plan_question(question).calls


@pytest.mark.parametrize("question", INSURANCE)
def test_insurance_words_plan_the_insurance_tool_alone(question: str) -> None:
    assert [c["tool"] for c in plan_question(question).calls] == ["insurance"]


def test_costs_still_plan_billing() -> None:
    tools = [c["tool"] for c in plan_question("show his bills from 2020").calls]
    assert tools == ["billing"], tools


# ------------------------------------------------------------------ on the fixtures


def _rotate(dataset: Dataset, questions: list[str], keep: Any) -> list[tuple[str, PatientRecord]]:
    """Each phrasing on one patient in turn (every patient and phrasing asked once)."""
    people = [r for r in dataset.patients if keep(r)]
    count = max(len(people), len(questions))
    return [(questions[i % len(questions)], people[i % len(people)]) for i in range(count)]


def _coded(record: PatientRecord, code: str) -> list[Resource]:
    return [o for o in record.of("Observation") if code in truth.codes(o.get("code"))]


def _moment(resource: Resource) -> str:
    return str(resource.get("effectiveDateTime", ""))


@pytest.mark.slow
async def test_alcohol_questions_cite_the_newest_audit_c_score(
    fhir: FhirClient, dataset: Dataset
) -> None:
    for question, record in _rotate(dataset, ALCOHOL, lambda r: _coded(r, AUDIT_C)):
        scores = sorted(_coded(record, AUDIT_C), key=_moment, reverse=True)
        answer = str((await ask_agent(fhir, record, question)).answer)

        def said(score: Resource) -> str:
            return f"{score['valueQuantity']['value']:g} on {truth.day(score)}"

        assert answer.startswith(f"The most recent AUDIT-C was {said(scores[0])}"), answer
        assert truth.cited(answer) == {truth.ref(s) for s in scores[:3]}, (question, answer)
        if len(scores) == 1:
            assert answer.endswith("It is the only AUDIT-C result in the record."), answer
        else:
            earlier = ", ".join(f"{said(s)} [{truth.ref(s)}]" for s in scores[1:3])
            assert f"Earlier: {earlier}; {len(scores)} AUDIT-C results" in answer, answer
        assert "No result named" not in answer, (question, answer)


@pytest.mark.slow
async def test_smoking_questions_cite_the_newest_smoking_status(
    fhir: FhirClient, dataset: Dataset
) -> None:
    for question, record in _rotate(dataset, SMOKING, lambda r: _coded(r, SMOKING_STATUS)):
        newest = max(_coded(record, SMOKING_STATUS), key=_moment)
        status = re.sub(r"\s*\([^)]*\)$", "", newest["valueCodeableConcept"]["text"])
        answer = str((await ask_agent(fhir, record, question)).answer)
        assert status.lower() in answer.lower(), (question, status, answer)
        assert truth.ref(newest) in truth.cited(answer), (question, answer)


def _names(resource: Resource) -> str:
    concepts = [resource.get("code"), *(resource.get("type") or [])]
    for activity in resource.get("activity") or []:
        concepts.append((activity.get("detail") or {}).get("code"))
    return " ".join(
        c.get("display", "") for concept in concepts if concept for c in concept["coding"]
    )


def _physiotherapy(record: PatientRecord) -> set[str]:
    """The test's own rule: a procedure, visit or care plan named physical therapy."""
    return {
        truth.ref(r)
        for kind in ("Procedure", "Encounter", "CarePlan")
        for r in record.of(kind)
        if re.search(r"(?i)physical therapy|physiotherapy", _names(r))
    }


@pytest.mark.slow
async def test_physical_therapy_is_searched_in_procedures_visits_and_care_plans(
    fhir: FhirClient, dataset: Dataset
) -> None:
    found = absent = 0
    for question, record in _rotate(dataset, PHYSIO * 2, lambda r: True):
        answer = str((await ask_agent(fhir, record, question)).answer)
        expected = _physiotherapy(record)
        cited = truth.cited(answer)
        assert not any(r.startswith(("Observation/", "Patient/")) for r in cited), answer
        if expected:
            found += 1
            assert cited and cited <= expected, (question, answer)
        else:
            absent += 1
            procedures, visits = len(record.of("Procedure")), len(record.of("Encounter"))
            assert f"o physical therapy or physiotherapy among {procedures} procedures, " in answer
            assert f" {visits} encounters and " in answer, (question, answer)
            assert "(searched for physical therapy, physiotherapy)" in answer, answer
            assert not cited, answer
    assert found and absent


def _dental(record: PatientRecord) -> list[Resource]:
    return [e for e in record.of("Encounter") if truth.dental_visit(e)]


@pytest.mark.slow
async def test_a_physical_is_never_a_dental_check_up(fhir: FhirClient, dataset: Dataset) -> None:
    people = lambda r: _dental(r) and truth.wellness_visits(r)  # noqa: E731
    for question, record in _rotate(dataset, PHYSICAL, people):
        answer = str((await ask_agent(fhir, record, question)).answer)
        day, newest = truth.newest(truth.wellness_visits(record))
        assert day in answer and truth.cited(answer) & newest, (question, answer)
        assert not truth.cited(answer) & {truth.ref(e) for e in _dental(record)}, answer


@pytest.mark.slow
async def test_dental_questions_find_the_dental_visits(fhir: FhirClient, dataset: Dataset) -> None:
    for question, record in _rotate(dataset, DENTAL + DENTAL_COUNT, _dental):
        visits = _dental(record)
        answer = str((await ask_agent(fhir, record, question)).answer)
        if question in DENTAL_COUNT:
            noun = "encounter" if len(visits) == 1 else "encounters"
            assert f"The patient had {len(visits)} dental {noun}" in answer, (question, answer)
            assert truth.cited(answer) == {truth.ref(e) for e in visits}, answer
        else:
            day, newest = truth.newest(visits)
            assert day in answer and truth.cited(answer) == newest, (question, answer)


def _payer(claim: Resource) -> str:
    return str(claim["insurance"][0]["coverage"]["display"])


def _claim_day(claim: Resource) -> str:
    return str(claim["billablePeriod"]["start"])[:10]


@pytest.mark.slow
async def test_insurance_questions_name_the_payers_and_the_survey_answer(
    fhir: FhirClient, dataset: Dataset
) -> None:
    for question, record in _rotate(dataset, INSURANCE, lambda r: r.of("Claim")):
        claims = record.of("Claim")
        answer = str((await ask_agent(fhir, record, question)).answer)
        payers = {_payer(c).replace("NO_INSURANCE", "none (NO_INSURANCE)") for c in claims}
        newest = _payer(max(claims, key=_claim_day)).replace("NO_INSURANCE", "none (")
        listed = re.findall(r"Payer ([^:]+):", answer)
        assert set(listed) == payers and listed[0].startswith(newest), (question, answer)
        assert f"on the patient's {len(claims)} claims" in answer, answer
        cited = truth.cited(answer)
        claim_refs = {truth.ref(c) for c in claims}
        assert len(cited & claim_refs) == len(payers), (question, answer)
        survey = [
            (truth.day(o), c["valueCodeableConcept"]["text"], truth.ref(o))
            for o in record.of("Observation")
            for c in o.get("component", [])
            if "76437-3" in truth.codes(c.get("code"))
        ]
        if survey:
            day, text, _ = max(survey)
            assert f"{day} Primary insurance (social needs survey answer): {text}" in answer
            assert cited - claim_refs and all(
                r.startswith("Observation/") for r in cited - claim_refs
            )
        assert not any(r.startswith("Patient/") for r in cited), answer


@pytest.mark.slow
async def test_a_social_finding_without_a_score_of_its_own_is_still_the_answer(
    fhir: FhirClient, dataset: Dataset
) -> None:
    """Employment is asked in a survey panel (no result of its own): the finding answers."""

    def employment(record: PatientRecord) -> set[str]:
        return {
            truth.ref(c)
            for c in record.of("Condition")
            if re.search(r"(?i)employment \(finding\)", c["code"].get("text", ""))
        }

    record = next(r for r in dataset.patients if employment(r))
    answer = str((await ask_agent(fhir, record, "is she employed?")).answer)
    assert answer.startswith("Yes") and truth.cited(answer) & employment(record), answer


@pytest.mark.parametrize(
    "question", ["does Earnestine Berge smoke?", "Does Milton Ortiz drink alcohol?"]
)
def test_a_named_person_who_smokes_or_drinks_is_read_as_that_person(question: str) -> None:
    """Else the bound patient's smoking status answered a question about someone else."""
    assert read_question(question).person == " ".join(question.split()[1:3])
