"""A physical is a wellness visit; a surgery is a procedure that looks surgical: on the
fixture patients, with no model, expectations computed here from the bundle JSON.

Before: "when was his last physical" answered with observations whose names contain
"physical" ("Physical findings of Prostate", a survey question about feeling physically
safe), and "what surgeries has he had" listed the newest procedures of any kind
(assessments, medication reconciliation, hospice care).  Now the check-up family reads
as a wellness encounter question (last, first, how many, in a year), and surgery words
ask ``procedures(kind="surgical")``, whose answer states its rule and its counts and
never says the patient had no surgery.  Near misses ("physical therapy", "physical
activity", "physical exam findings", plain "procedures") keep their readings.
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

WELLNESS_LAST = [
    "when was his last physical",
    "when was her last annual physical?",
    "last checkup?",
    "date of his most recent check-up",
    "when did she last have a check up",
    "most recent well visit",
    "when was his last routine exam",
    "when was the last wellness exam",
    "last yearly physical?",
    "when was her last physical exam",
]
WELLNESS_FIRST = ["when was his first physical", "first well-child visit?", "earliest checkup"]
WELLNESS_COUNT = ["how many physicals has he had", "number of check-ups", "how many annual exams"]
WELLNESS_YEAR = [
    "did he have a physical in {year}",
    "physicals in {year}",
    "any checkups in {year}?",
]
SURGERY = [
    "what surgeries has he had",
    "surgical history",
    "past surgical history?",
    "any surg hx?",
    "any operations?",
    "has he ever been operated on",
    "list her surgeries",
    "what operations has she had",
    "prior surgeries?",
    "has she had surgery",
    "surgical hx",
    "what surgical procedures were done",
    "when was her last surgery",
    "psh?",
    "how many surgeries has he had",
    "how many operations has she had",
    "any surgery ever?",
]
# Words that share "physical" or "procedure" but ask something else: their readings stay.
NEAR_MISSES = [
    "physical exam findings",
    "physical therapy?",
    "any physical therapy referrals",
    "physical activity",
    "how much physical activity does he do",
    "what did the physical exam show",
    "what did his last physical exam find",
    "how is his physical and mental health",
]
PLAIN_PROCEDURES = ["what procedures has he had", "when was his last colonoscopy"]


# ------------------------------------------------------------------ reading and plan


def _encounter_kinds(question: str) -> list[Any]:
    calls = plan_question(question).calls
    return [c["arguments"].get("encounter_type") for c in calls if c["tool"] == "encounters"]


@pytest.mark.parametrize(
    "question",
    [
        *WELLNESS_LAST,
        *WELLNESS_FIRST,
        *WELLNESS_COUNT,
        *(q.format(year=2019) for q in WELLNESS_YEAR),
    ],
)
def test_the_check_up_family_plans_wellness_encounters(question: str) -> None:
    reading = read_question(question)
    assert "encounter" in reading.families and not reading.concepts, reading
    calls = plan_question(question).calls
    assert _encounter_kinds(question) == ["wellness"], calls
    assert not any(c["tool"] in ("lab_results", "find_concept", "vital_signs") for c in calls)


@pytest.mark.parametrize("question", SURGERY)
def test_surgery_words_plan_surgical_procedures(question: str) -> None:
    assert "procedure" in read_question(question).families
    calls = plan_question(question).calls
    assert [c for c in calls if c["tool"] == "procedures"] == [
        {"tool": "procedures", "arguments": {**_limit(question), "kind": "surgical"}}
    ], calls


def _limit(question: str) -> dict[str, int]:
    return {"limit": 200} if question.startswith("how many") else {}


@pytest.mark.parametrize("question", NEAR_MISSES)
def test_near_misses_keep_their_reading(question: str) -> None:
    assert "wellness" not in expand_shorthand(question).lower()
    assert _encounter_kinds(question) in ([], [None]), question
    reading = read_question(question)
    # (Physical therapy is read as its one-word name: tests/agent/test_agent_social_history.py.)
    assert any(re.search("physical|physiotherapy", c.phrase) for c in reading.concepts), reading


@pytest.mark.parametrize("question", PLAIN_PROCEDURES)
def test_procedures_not_called_surgery_stay_unrestricted(question: str) -> None:
    calls = plan_question(question).calls
    assert not any(c["arguments"].get("kind") for c in calls), calls


# ------------------------------------------------------------------ on the fixtures


async def _ask(fhir: FhirClient, record: PatientRecord, question: str) -> str:
    return str((await ask_agent(fhir, record, question)).answer)


def _display(resource: Resource, key: str) -> str:
    concept = resource.get(key) or {}
    if isinstance(concept, list):
        concept = concept[0] if concept else {}
    texts = [concept.get("text") or ""] + [c.get("display", "") for c in concept.get("coding", [])]
    return " ".join(texts).lower()


def _wellness(record: PatientRecord) -> list[Resource]:
    """The tests' own rule (a check-up visit, less a dental one): ``truth.wellness_visits``."""
    return truth.wellness_visits(record)


def _procedure_day(resource: Resource) -> str:
    period = resource.get("performedPeriod") or {}
    return str(resource.get("performedDateTime") or period.get("start") or "")[:10]


def _patients(dataset: Dataset, questions: list[str]) -> list[tuple[str, PatientRecord]]:
    """Each phrasing on one patient, in turn, so every patient and phrasing is asked."""
    people = [r for r in dataset.patients if _wellness(r) and r.of("Procedure")]
    return [(q, people[i % len(people)]) for i, q in enumerate(questions)]


@pytest.mark.slow
async def test_last_and_first_physical_cite_the_newest_and_oldest_wellness_visit(
    fhir: FhirClient, dataset: Dataset
) -> None:
    for question, record in _patients(dataset, [*WELLNESS_LAST, *WELLNESS_FIRST]):
        visits = _wellness(record)
        answer = await _ask(fhir, record, question)
        cited = truth.cited(answer)
        assert cited and cited <= {truth.ref(e) for e in visits}, (question, answer)
        days = sorted(truth.day(e) for e in visits)
        wanted = days[0] if question in WELLNESS_FIRST else days[-1]
        assert wanted in answer, (question, wanted, answer)
        assert not any(r.startswith("Observation/") for r in cited), answer


@pytest.mark.slow
async def test_how_many_physicals_counts_wellness_visits(
    fhir: FhirClient, dataset: Dataset
) -> None:
    for question, record in _patients(dataset, WELLNESS_COUNT):
        visits = _wellness(record)
        answer = await _ask(fhir, record, question)
        noun = "encounter" if len(visits) == 1 else "encounters"
        assert f"The patient had {len(visits)} wellness {noun}" in answer, (question, answer)
        assert truth.cited(answer) == {truth.ref(e) for e in visits}, answer


@pytest.mark.slow
async def test_physicals_in_a_year(fhir: FhirClient, dataset: Dataset) -> None:
    for question, record in _patients(dataset, WELLNESS_YEAR * 2):
        visits = _wellness(record)
        years = sorted({truth.day(e)[:4] for e in visits})
        year = years[-1] if WELLNESS_YEAR.index(question) % 2 else years[0]
        expected = {truth.ref(e) for e in visits if truth.day(e).startswith(year)}
        answer = await _ask(fhir, record, question.format(year=year))
        assert truth.cited(answer) == expected, (question, year, answer)


_NEVER = re.compile(r"(?i)\bno surger|never (?:had|been)|has not had|had 0 surg|none was found")


def _must_keep(record: PatientRecord) -> set[str]:
    """The test's own rule: an -ectomy or a biopsy is surgery, whatever else is."""
    return {
        truth.ref(p)
        for p in record.of("Procedure")
        if re.search(r"ectomy\b|\bbiopsy\b", _display(p, "code"))
    }


def _must_leave(record: PatientRecord) -> set[str]:
    return {
        truth.ref(p)
        for p in record.of("Procedure")
        if re.search(r"assessment|screening|reconciliation", _display(p, "code"))
    }


@pytest.mark.slow
async def test_surgery_questions_list_surgical_procedures_with_the_rule_and_counts(
    fhir: FhirClient, dataset: Dataset
) -> None:
    for question, record in _patients(dataset, SURGERY):
        procedures = record.of("Procedure")
        answer = await _ask(fhir, record, question)
        cited = truth.cited(answer)
        assert cited <= {truth.ref(p) for p in procedures}, (question, answer)
        assert not cited & _must_leave(record), (question, answer)
        assert not _NEVER.search(answer), (question, answer)
        rule = re.search(
            rf"(\d+) of the {len(procedures)} procedures recorded"
            r" (?:looks surgical by its name|look surgical by their names)"
            r" \(words such as -ectomy[^)]*\); the other (\d+) \(",
            answer,
        )
        assert rule, (question, answer)
        kept, others = int(rule.group(1)), int(rule.group(2))
        assert kept + others == len(procedures) and kept >= 1, answer
        if question.startswith("how many"):
            noun = "procedure" if kept == 1 else "procedures"
            assert f"The patient had {kept} surgical {noun}" in answer, answer
            assert _must_keep(record) <= cited, (question, answer)
        elif "last" not in question:
            assert cited & _must_keep(record) or not _must_keep(record), (question, answer)


@pytest.mark.slow
async def test_a_year_without_surgical_names_says_what_was_searched(
    fhir: FhirClient, dataset: Dataset
) -> None:
    checked = 0
    for record in dataset.patients:
        by_year: dict[str, list[Resource]] = {}
        for procedure in record.of("Procedure"):
            by_year.setdefault(_procedure_day(procedure)[:4], []).append(procedure)
        leave = _must_leave(record)
        plain = [y for y, ps in by_year.items() if all(truth.ref(p) in leave for p in ps)]
        if not plain:
            continue
        year = max(plain)
        checked += 1
        answer = await _ask(fhir, record, f"any surgery in {year}?")
        assert answer.startswith(
            f"No procedure in the record ({year}-01-01 to {year}-12-31) looks surgical by its name"
        ), answer
        count = len(by_year[year])
        recorded = "procedure was" if count == 1 else "procedures were"
        assert f"; {count} {recorded} recorded." in answer, answer
        assert not _NEVER.search(answer) and not truth.cited(answer), answer
        if checked >= 3:
            break
    assert checked


@pytest.mark.slow
async def test_near_misses_answer_as_before_without_wellness_visits(
    fhir: FhirClient, dataset: Dataset
) -> None:
    record = max(dataset.patients, key=lambda r: len(_wellness(r)))
    for question in ("physical activity", "physical exam findings"):
        answer = await _ask(fhir, record, question)
        assert "wellness" not in answer.lower(), (question, answer)
    answer = await _ask(fhir, record, "what procedures has he had")
    assert "surgical" not in answer and "Procedures in the record:" in answer, answer
