"""Judgement questions ("is his diabetes controlled?") and questions about a course over
time ("how's his cholesterol been") on the fixture patients, with no model.

Before: "is his diabetes controlled?" answered "Yes: ... Diabetes mellitus type 2
active" (whether it is controlled is a clinician's judgement the record does not state),
"is his blood pressure controlled?" answered "Yes" with the latest reading, and "is his
asthma under control?" answered "No" for want of asthma; "how's his cholesterol been",
"has his weight gone up", "A1c over the years" and "A1c since 2019" gave only the latest
value.  Now a judgement gets no "Yes"/"No": the answer says the record does not say,
then shows the diagnosis as recorded and the latest results followed for it (each
cited); a course lists the dated values, oldest first, with their count.  Expectations
are computed here from the bundle JSON.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from agent.planner import plan_reading
from agent.reading import read_question
from agent.reading.judgement import with_monitoring
from fhir_client import FhirClient
from tests.support import agent_truth as truth
from tests.support.agent_ask import ask_unedited
from tests.support.tools_datasets import Dataset

Resource = dict[str, Any]
DATASETS = ("fixtures",)
NOTE = "The record does not say how well {} is controlled: that is a clinical judgement"
# LOINC codes as the bundles write them (the tests' own copy, not the tools' vocabulary).
BP = {"85354-9", "55284-4"}
TOTAL_CHOL = {"2093-3"}
LDL = {"18262-6", "13457-7", "2089-1"}
HDL = {"2085-9"}
TG = {"2571-8"}


@pytest.mark.parametrize(
    ("question", "subject", "followed"),
    [
        ("is his diabetes controlled?", "diabetes", ["a1c", "glucose"]),
        ("Is her diabetes well controlled?", "diabetes", ["a1c", "glucose"]),
        ("is his diabetes under control", "diabetes", ["a1c", "glucose"]),
        ("how well controlled is his diabetes", "diabetes", ["a1c", "glucose"]),
        ("is her diabetes poorly controlled?", "diabetes", ["a1c", "glucose"]),
        ("is her sugar in good control", "sugar", ["a1c", "glucose"]),
        ("is her blood pressure controlled?", "blood pressure", []),
        ("is his bp under control", "bp", []),
        ("is her hypertension well managed?", "hypertension", ["blood pressure"]),
        ("is his htn well controlled", "htn", ["blood pressure"]),
        ("is his cholesterol under control?", "cholesterol", ["ldl", "hdl", "triglycerides"]),
        ("is his asthma under control?", "asthma", []),
        ("is his thyroid adequately managed", "thyroid", ["tsh"]),
        ("is her weight under control", "weight", ["bmi"]),
        ("is her depression well managed", "depression", ["phq9", "phq2"]),
        ("is his ckd out of control", "ckd", ["egfr", "creatinine", "bun"]),
    ],
)
def test_a_judgement_is_read_with_the_results_followed_for_it(
    question: str, subject: str, followed: list[str]
) -> None:
    reading = read_question(question)
    assert reading.judged and reading.asks == "value", reading
    assert reading.concepts[0].phrase == subject, reading
    monitored = with_monitoring(reading)
    assert [c.name for c in monitored.concepts[1:]] == followed, monitored
    # With a model, a judgement is the model's to plan (never confidently by the rules).
    assert not plan_reading(reading, question).confident


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("is her diabetes active?", "yes_no"),
        ("does he have diabetes?", "yes_no"),
        ("what was his last cholesterol?", "value"),
        ("is he on a controlled substance?", "yes_no"),
        ("any controlled-release tablets?", "yes_no"),
        ("is she on birth control", "yes_no"),
        ("who manages her diabetes", "value"),
    ],
)
def test_words_that_are_not_a_judgement(question: str, asks: str) -> None:
    reading = read_question(question)
    assert not reading.judged and reading.asks == asks, reading
    assert with_monitoring(reading) == reading


@pytest.mark.parametrize(
    ("question", "name"),
    [
        ("how's his cholesterol been", "total cholesterol"),
        ("how has his A1c been lately", "a1c"),
        ("how has her A1c changed", "a1c"),
        ("has his weight gone up", "weight"),
        ("cholesterol trend", "total cholesterol"),
        ("A1c over the years", "a1c"),
        ("A1c since 2019", "a1c"),
        ("is his eGFR dropping", "egfr"),
        ("how have her blood pressures been", "blood pressure"),
        ("has her BMI increased", "bmi"),
        ("is her weight going down", "weight"),
        ("how is his LDL trending", "ldl"),
        ("has his creatinine risen", "creatinine"),
        ("her HbA1c over time", "a1c"),
        ("changes in his weight", "weight"),
        ("is his A1c getting better", "a1c"),
        ("how has his blood pressure looked since 2020", "blood pressure"),
        ("has her potassium fluctuated", "potassium"),
    ],
)
def test_a_course_over_time_is_read_as_a_trend(question: str, name: str) -> None:
    reading = read_question(question)
    assert reading.asks == "trend" and reading.course and not reading.judged, reading
    assert [c.name for c in reading.concepts] == [name], reading
    assert reading.ordinal is None  # "lately" is the course's end, not "the latest only"


@pytest.mark.parametrize(
    ("question", "family", "judged"),
    [
        ("how's his diabetes been", "condition", True),  # a diagnosis the panels follow
        ("how has his hypertension been", "condition", True),
        ("how has her asthma been", "condition", False),  # nothing followed: its records
        ("how's his cholesterol been", "lab", False),  # a result's own course
    ],
)
def test_the_course_of_a_followed_diagnosis_is_a_judgement(
    question: str, family: str, judged: bool
) -> None:
    read = read_question(question)
    subject = read.concepts[0].model_copy(update={"family": family})  # as resolved
    reading = read.model_copy(update={"concepts": [subject]})
    monitored = with_monitoring(reading)
    assert monitored.judged is judged and monitored.asks == "trend", monitored
    assert (len(monitored.concepts) > 1) is judged
    # The same subject asked about today, not over time, is no judgement.
    assert with_monitoring(reading.model_copy(update={"course": False})).judged is False


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("what was his last cholesterol?", "value"),
        ("what was his latest A1c", "value"),
        ("latest A1c since 2019", "value"),
        ("A1c in 2019", "value"),
        ("has his metformin dose changed?", "yes_no"),
        ("how many times has his A1c gone up", "count"),
        ("how long has he been on metformin", "value"),
        ("compare the last two LDL values", "compare"),
        ("any falls?", "yes_no"),
        ("is she on eye drops", "yes_no"),
        ("meds since 2020", "value"),
        ("how are her sugar levels looking?", "value"),  # the state now: the latest
        ("How is the kidney function doing?", "value"),
    ],
)
def test_words_that_are_not_a_course(question: str, asks: str) -> None:
    assert read_question(question).asks == asks


def _shows_newest(answer: str, results: list[Resource]) -> bool:
    """The newest result's day is in the answer and one of that day's results cited."""
    newest_day, newest = truth.newest(results)
    return newest_day in answer and bool(truth.cited(answer) & newest)


def _no_verdict(answer: str) -> bool:
    return not re.match(r"(?i)\s*(yes|no)\b", answer)


@pytest.mark.slow
async def test_is_his_diabetes_controlled_shows_the_diagnosis_and_the_latest_results(
    fhir: FhirClient, dataset: Dataset
) -> None:
    checked = 0
    for record in dataset.patients:
        diagnoses = truth.conditions_named(record, r"\bdiabet")
        answer = await ask_unedited(fhir, record, "is his diabetes controlled?")
        if not diagnoses:
            assert answer.startswith("No diabetes"), answer  # the absence, no judgement
            continue
        checked += 1
        assert answer.startswith(NOTE.format("diabetes")) and _no_verdict(answer), answer
        assert truth.cited(answer) & diagnoses, answer
        for codes in (truth.HBA1C, truth.GLUCOSE):
            results = truth.measured(record, codes)
            if results:
                assert _shows_newest(answer, results), (codes, answer)
        a1c = {truth.ref(o) for o in truth.hba1c_results(record)}
        glucose = {truth.ref(o) for o in truth.measured(record, truth.GLUCOSE)}
        # Every citation is the diagnosis or one of the results followed for it.
        assert truth.cited(answer) <= diagnoses | a1c | glucose, answer
    assert checked >= 5


@pytest.mark.slow
async def test_how_his_diabetes_has_been_shows_the_diagnosis_and_the_a1c_course(
    fhir: FhirClient, dataset: Dataset
) -> None:
    record = next(r for r in dataset.patients if r.id.startswith("ce787016"))
    answer = await ask_unedited(fhir, record, "how's his diabetes been")
    assert answer.startswith(NOTE.format("diabetes")), answer
    assert truth.cited(answer) & truth.conditions_named(record, r"\bdiabetes mellitus"), answer
    a1c = sorted(truth.hba1c_results(record), key=truth.day)
    assert f"HbA1c, {len(a1c)} results, oldest first:" in answer, answer
    assert {truth.ref(r) for r in a1c} <= truth.cited(answer), answer


@pytest.mark.slow
async def test_blood_pressure_and_hypertension_judgements_show_the_latest_reading(
    fhir: FhirClient, dataset: Dataset
) -> None:
    checked = 0
    for record in dataset.patients[:6]:
        readings = truth.measured(record, BP)
        if not readings:
            continue
        for question in ("is her blood pressure controlled?", "is her hypertension well managed?"):
            answer = await ask_unedited(fhir, record, question)
            assert _no_verdict(answer) and _shows_newest(answer, readings), answer
        hypertension = truth.conditions_named(record, r"\bhypertension")
        if hypertension:
            checked += 1
            assert answer.startswith(NOTE.format("hypertension")), answer
            assert truth.cited(answer) & hypertension, answer
    assert checked >= 2


@pytest.mark.slow
async def test_is_his_cholesterol_under_control_shows_the_lipid_panel(
    fhir: FhirClient, dataset: Dataset
) -> None:
    record = next(r for r in dataset.patients if r.id.startswith("ce787016"))
    answer = await ask_unedited(fhir, record, "is his cholesterol under control?")
    assert answer.startswith(NOTE.format("cholesterol")) and _no_verdict(answer), answer
    for codes in (TOTAL_CHOL, LDL, HDL, TG):
        assert _shows_newest(answer, truth.measured(record, codes)), (codes, answer)


@pytest.mark.slow
async def test_a_judgement_the_record_cannot_hold_is_answered_by_the_absence(
    fhir: FhirClient, dataset: Dataset
) -> None:
    record = next(r for r in dataset.patients if not truth.conditions_named(r, r"\basthma"))
    answer = await ask_unedited(fhir, record, "is his asthma under control?")
    assert answer.startswith("No asthma among") and not truth.cited(answer), answer


def _course_lines(answer: str) -> list[str]:
    return [line for line in answer.splitlines() if line.startswith("- ")]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "codes", "label"),
    [
        ("how's his cholesterol been", TOTAL_CHOL, "Total chol"),
        ("how has her blood pressure been lately", BP, "BP"),
        ("has his weight gone up", truth.WEIGHT, "Weight"),
        ("A1c over the years", truth.HBA1C, "HbA1c"),
    ],
)
async def test_a_course_lists_the_dated_values_oldest_first_with_the_count(
    fhir: FhirClient, dataset: Dataset, question: str, codes: set[str], label: str
) -> None:
    capped = 0
    for record in dataset.patients:
        results = sorted(truth.measured(record, codes), key=truth.day)
        if not results:
            continue
        answer = await ask_unedited(fhir, record, question)
        shown = results[-10:]  # the ten newest, as the trend lookup's bound
        head, *_ = answer.splitlines()
        if len(results) > 10:
            capped += 1
            assert head == f"{label}, the 10 most recent of {len(results)} results, oldest first:"
        else:
            noun = "result" if len(results) == 1 else "results"
            assert head == f"{label}, {len(results)} {noun}, oldest first:", answer
        lines = _course_lines(answer)
        assert len(lines) == len(shown), answer
        days = [line[2:12] for line in lines]
        assert days == sorted(days) == [truth.day(r) for r in shown], answer
        assert truth.cited(answer) == {truth.ref(r) for r in shown}, answer
    if codes is not TOTAL_CHOL:
        assert capped, "some fixture patient has more than ten of these results"


@pytest.mark.slow
async def test_a_course_since_a_year_lists_that_window(fhir: FhirClient, dataset: Dataset) -> None:
    for record in dataset.patients[:6]:
        results = [r for r in truth.hba1c_results(record) if truth.day(r) >= "2019-01-01"]
        answer = await ask_unedited(fhir, record, "A1c since 2019")
        if not results:
            assert not truth.cited(answer), answer
            continue
        assert answer.startswith(f"HbA1c, {len(results)} result"), answer
        assert truth.cited(answer) == {truth.ref(r) for r in results}, answer


@pytest.mark.slow
async def test_near_misses_keep_their_answers(fhir: FhirClient, dataset: Dataset) -> None:
    record = next(r for r in dataset.patients if r.id.startswith("ce787016"))
    diagnoses = truth.conditions_named(record, r"\bdiabetes mellitus")
    for question in ("is his diabetes active?", "does he have diabetes?"):
        answer = await ask_unedited(fhir, record, question)
        assert answer.startswith("Yes:") and truth.cited(answer) & diagnoses, answer
    answer = await ask_unedited(fhir, record, "what was his last cholesterol?")
    day, newest = truth.newest(truth.measured(record, TOTAL_CHOL))
    assert answer.startswith("The most recent Total chol was") and day in answer, answer
    assert truth.cited(answer) == newest, answer
