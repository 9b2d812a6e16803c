"""An interaction question gets no "Yes" or "No": on the fixture patients, with no model,
expectations computed here from the bundle JSON.

Before: "any drug interactions?" was answered "No: no drug interactions or substance
interactions among all 1000 coded entries of the record", the absence of a check nobody
made (ehr-agent has no interaction knowledge base and a FHIR record states none).  Now the
answer says what ehr-agent does not check, then lists the orders asked about: every
active one, or those of each drug the question names, one lookup per drug.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from agent.models.scripted import ScriptedModel
from agent.planner.rules import plan_question
from agent.reading import read_question
from agent.reading.interactions import INTERACTION_NOTE
from fhir_client import FhirClient
from tests.support import agent_truth as truth
from tests.support.agent_ask import ask_agent
from tests.support.tools_datasets import Dataset, PatientRecord

Resource = dict[str, Any]
DATASETS = ("fixtures",)

WHOLE_LIST = [
    "any drug interactions?",
    "drug-drug interactions",
    "any interactions between her meds?",
    "any contraindications?",
    "are any of his medications contraindicated",
    "do any of her meds interact",
    "any ddi?",
    "DDIs?",
]
TWO_DRUGS = [
    "does {a} interact with {b}?",
    "is it safe to take {a} with {b}?",
    "interactions between {a} and {b}",
    "{a} + {b} interaction?",
    "is {a} contraindicated with {b}",
]
NOT_INTERACTIONS = ["what meds is she on", "is she on lisinopril?", "any drug allergies?"]


@pytest.mark.parametrize("question", WHOLE_LIST)
def test_an_interaction_question_lists_the_active_orders(question: str) -> None:
    reading = read_question(question)
    assert reading.interaction and reading.asks == "list" and not reading.concepts, reading
    assert plan_question(question).calls == [
        {"tool": "medications", "arguments": {"status": "active"}}
    ]


@pytest.mark.parametrize("template", TWO_DRUGS)
def test_each_drug_named_is_looked_up_on_its_own(template: str) -> None:
    question = template.format(a="lisinopril", b="ibuprofen")
    reading = read_question(question)
    assert reading.interaction and [c.phrase for c in reading.concepts] == [
        "lisinopril",
        "ibuprofen",
    ], reading
    assert plan_question(question).calls == [
        {"tool": "medications", "arguments": {"name": drug, "status": "active"}}
        for drug in ("lisinopril", "ibuprofen")
    ]


@pytest.mark.parametrize("question", NOT_INTERACTIONS)
def test_other_medication_questions_are_not_interaction_questions(question: str) -> None:
    assert not read_question(question).interaction


def _drug(order: Resource) -> str:
    concept = order.get("medicationCodeableConcept") or {}
    return str(concept.get("text") or concept["coding"][0]["display"])


def _word(order: Resource) -> str:
    """The first word of a drug's name that names it ("insulin" in "24 HR insulin ...")."""
    found = re.search(r"[a-z]{4,}", _drug(order).lower())
    assert found is not None
    return found.group()


def _active_orders(record: PatientRecord) -> list[Resource]:
    return [
        o
        for o in record.of("MedicationRequest")
        if o.get("status") == "active" and o.get("medicationCodeableConcept")
    ]


async def _ask(fhir: FhirClient, record: PatientRecord, question: str) -> str:
    return str((await ask_agent(fhir, record, question)).answer)


@pytest.mark.slow
async def test_the_answer_judges_nothing_and_cites_the_orders(
    fhir: FhirClient, dataset: Dataset
) -> None:
    people = [r for r in dataset.patients if len({_drug(o) for o in _active_orders(r)}) >= 2]
    assert people
    for index, question in enumerate(WHOLE_LIST):
        record = people[index % len(people)]
        answer = await _ask(fhir, record, question)
        assert answer.startswith(INTERACTION_NOTE), (question, answer)
        assert truth.active_medications(record) <= truth.cited(answer), (question, answer)
    for index, template in enumerate(TWO_DRUGS):
        record = people[index % len(people)]
        first, second = sorted({_word(o) for o in _active_orders(record)})[:2]
        answer = await _ask(fhir, record, template.format(a=first, b=second))
        assert answer.startswith(INTERACTION_NOTE), (template, answer)
        for drug in (first, second):
            orders = {truth.ref(o) for o in _active_orders(record) if drug in _drug(o).lower()}
            assert orders & truth.cited(answer), (drug, answer)
        absent = await _ask(fhir, record, template.format(a=first, b="zzquinox"))
        assert "No active medication orders named 'zzquinox'" in absent, absent
        assert not absent.replace(INTERACTION_NOTE, "").lstrip().startswith(("Yes", "No:")), absent


async def test_with_a_model_an_interaction_question_is_still_not_judged(
    fhir: FhirClient, dataset: Dataset
) -> None:
    """A model that would say "No interactions" never writes the answer: it is composed
    from the evidence, the model's turn unused."""
    record = next(r for r in dataset.patients if _active_orders(r))
    judging = "No, these medications do not interact"

    def judge(system: str, user: str, schema: Any) -> str:  # cites a real line: verifiable
        line = user.split("Evidence:\n", 1)[1].splitlines()[0]
        return f"{judging}: {line}."

    plan = json.dumps({"action": "medications", "arguments": {"status": "active"}})
    model = ScriptedModel([plan, json.dumps({"action": "answer"}), judge] * 2)
    output = await ask_agent(fhir, record, "any drug interactions?", model)
    assert output.answer.startswith(INTERACTION_NOTE), output.answer
    assert judging not in output.answer and not output.fallback
    assert truth.active_medications(record) <= truth.cited(output.answer)
