"""Schedule questions ("is she due for ...", "up to date on shots?") and "when was the
last X" on real Synthea patients, with no model.

A schedule is not in the record, so a schedule question gets no "Yes" or "No": the
answer says what ehr-agent cannot judge, then what was last done, each newest entry
cited.  "When was the last colonoscopy" and "when was metformin last prescribed" name
the newest entry first (before: a list in record order, and for the drug a false "No
medication order matches", because "last prescribed" was read as the first order of
"metformin last").  Expectations are computed here from the bundle JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from agent.extractive_kinds import DUE_NOTE
from agent.models.scripted import ScriptedModel
from agent.reading import read_question
from fhir_client import FhirClient
from tests.support import agent_truth as truth
from tests.support.agent_ask import ask_agent
from tests.support.tools_datasets import Dataset, PatientRecord

Resource = dict[str, Any]


@pytest.mark.parametrize(
    ("question", "phrase", "family"),
    [
        ("what vaccines is he due for", None, "immunization"),
        ("is he up to date on his shots?", None, "immunization"),
        ("are her vaccines up-to-date", None, "immunization"),
        ("is she behind on her immunizations", None, "immunization"),
        ("any overdue immunizations?", None, "immunization"),
        ("is she due for a colonoscopy", "colonoscopy", None),
        ("is he overdue for his a1c", "a1c", "lab"),
        ("when is her next mammogram due", "mammogram", None),
    ],
)
def test_schedule_words_are_read_and_cut_from_the_concept(
    question: str, phrase: str | None, family: str | None
) -> None:
    reading = read_question(question)
    assert reading.due, reading
    assert [c.phrase for c in reading.concepts] == ([phrase] if phrase else []), reading
    if family:
        assert family in reading.families, reading


@pytest.mark.parametrize(
    "question",
    [
        "does she have medication review due",  # a Synthea condition's name
        "anemia due to ckd?",
        "whats her due date",
        "when is her next visit",
        "when was her last flu shot",
    ],
)
def test_words_that_are_not_a_schedule_question(question: str) -> None:
    assert not read_question(question).due


@pytest.mark.parametrize(
    ("question", "ordinal"),
    [
        ("when was metformin last prescribed", "latest"),
        ("when was her lisinopril last filled", "latest"),
        ("when was she last prescribed metformin", "latest"),
    ],
)
def test_last_prescribed_reads_the_drug_alone(question: str, ordinal: str) -> None:
    reading = read_question(question)
    assert reading.ordinal == ordinal
    assert [c.phrase for c in reading.concepts] in (["metformin"], ["lisinopril"]), reading


DATASETS = ("fixtures",)


def _display(resource: Resource, key: str) -> str:
    codings = (resource.get(key) or {}).get("coding") or [{}]
    return str(codings[0].get("display", ""))


def _named(record: PatientRecord, resource_type: str, key: str, word: str) -> list[Resource]:
    return [
        r
        for r in record.of(resource_type)
        if re.search(rf"\b{word}", _display(r, key), re.IGNORECASE)
    ]


@pytest.mark.slow
async def test_a_vaccine_schedule_question_gets_no_yes_and_the_newest_dose_of_each(
    fhir: FhirClient, dataset: Dataset
) -> None:
    asked = 0
    for record in dataset.patients[:6]:
        doses = record.of("Immunization")
        if not doses:
            continue
        asked += 1
        answer = (await ask_agent(fhir, record, "is she up to date on her vaccines?")).answer
        assert answer.startswith(DUE_NOTE), answer
        assert not re.match(r"(?i)\s*(yes|no)\b", answer), answer
        newest_of_each: dict[str, Resource] = {}
        for dose in sorted(doses, key=truth.day):
            newest_of_each[_display(dose, "vaccineCode")] = dose
        dates = {truth.day(d) for d in newest_of_each.values()}
        cited = truth.cited(answer)
        assert cited <= {truth.ref(d) for d in doses}, answer
        for date in sorted(dates, reverse=True)[:4]:
            assert date in answer, (date, answer)
    assert asked


@pytest.mark.slow
async def test_due_for_a_procedure_names_the_last_one_or_says_what_was_searched(
    fhir: FhirClient, dataset: Dataset
) -> None:
    for record in dataset.patients[:8]:
        done = _named(record, "Procedure", "code", "colonoscopy")
        answer = (await ask_agent(fhir, record, "is he due for a colonoscopy?")).answer
        assert answer.startswith(DUE_NOTE), answer
        if done:
            newest_day, newest = truth.newest(done)
            assert truth.cited(answer) & newest and newest_day in answer, answer
        else:
            assert "No colonoscopy" in answer and not truth.cited(answer), answer


@pytest.mark.slow
async def test_the_last_procedure_is_named_first_with_the_earlier_ones(
    fhir: FhirClient, dataset: Dataset
) -> None:
    checked = 0
    for record in dataset.patients:
        done = _named(record, "Procedure", "code", "colonoscopy")
        if not done:
            continue
        checked += 1
        answer = (await ask_agent(fhir, record, "when was his last colonoscopy?")).answer
        first, *rest = answer.splitlines()
        newest_day, newest = truth.newest(done)
        assert first.startswith(f"The most recent procedure in the record was on {newest_day}")
        assert truth.cited(first) & newest, answer
        assert truth.cited(answer) <= {truth.ref(r) for r in done}, answer
        if len({truth.day(r) for r in done}) > 1:
            assert rest and rest[0] == "Earlier:", answer
    assert checked >= 2


@pytest.mark.slow
async def test_last_prescribed_names_the_newest_order_not_a_false_no(
    fhir: FhirClient, dataset: Dataset
) -> None:
    checked = 0
    for record in dataset.patients[:8]:
        for drug in ("metformin", "lisinopril"):
            orders = _named(record, "MedicationRequest", "medicationCodeableConcept", drug)
            for question in (f"when was {drug} last prescribed?", f"when was {drug} last filled"):
                answer = (await ask_agent(fhir, record, question)).answer
                if not orders:  # the absence names what was searched
                    assert answer.startswith(f"No {drug} among"), answer
                    continue
                checked += 1
                newest_day, newest = truth.newest(orders)
                assert not answer.startswith("No "), answer
                first = answer.splitlines()[0]
                assert newest_day in first and truth.cited(first) & newest, answer
    assert checked >= 2


async def test_with_a_model_a_schedule_question_is_still_not_judged(
    fhir: FhirClient, dataset: Dataset
) -> None:
    """A model that would say "Yes, up to date" never writes the answer to a schedule
    question: the answer is composed from the evidence, the model's turn unused."""
    record = next(r for r in dataset.patients if r.of("Immunization"))
    judging = "Yes, she is up to date on her vaccines"

    def judge(system: str, user: str, schema: Any) -> str:  # cites a real line: verifiable
        line = user.split("Evidence:\n", 1)[1].splitlines()[0]
        return f"{judging}: {line}."

    plan = json.dumps({"action": "immunizations", "arguments": {}})
    model = ScriptedModel([plan, json.dumps({"action": "answer"}), judge] * 2)
    output = await ask_agent(fhir, record, "is she up to date on her vaccines?", model)
    assert output.answer.startswith(DUE_NOTE), output.answer
    assert judging not in output.answer and not output.fallback
    assert truth.cited(output.answer) <= {truth.ref(d) for d in record.of("Immunization")}
