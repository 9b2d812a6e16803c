"""The graph's answer verification, with a scripted model on a real fixture patient: echoed
prompts, missing or invented citations, counts, first orders, another language.

The model's outputs are scripted; everything else is real: the tools run through the
embedded FHIR facade on our Synthea fixtures, and expected values come from the bundle
JSON.  The replies and the patient are in ``tests/support/scripted_graph.py``.
"""

from __future__ import annotations

import re
from typing import Any

from agent.extractive import FALLBACK_NOTE
from agent.models.scripted import ScriptedModel
from fhir_client import FhirClient
from tests.support import agent_truth as truth
from tests.support.agent_ask import ask_agent
from tests.support.scripted_graph import (
    LATEST,
    alias_of,
    latest_hba1c,
    record,
)
from tests.support.tools_datasets import Dataset, PatientRecord

__all__ = ["record"]  # a fixture used here by name


async def test_answer_that_echoes_the_prompt_with_a_real_citation_is_rejected(
    fhir: FhirClient, record: PatientRecord
) -> None:
    """The Gemma 270M failure: prompt text parroted back, a real alias copied from it."""

    def echo(system: str, user: str, schema: Any) -> str:
        real = re.search(r"\[(\d+)\]", user.split("Evidence:\n", 1)[1])
        assert real
        return f"Answer with citations: {system} e.g. [{real.group(1)}]"

    model = ScriptedModel([echo, echo])
    output = await ask_agent(fhir, record, LATEST, model)
    day, _, refs = latest_hba1c(record)
    assert output.fallback and output.answer.endswith(FALLBACK_NOTE)
    assert "clinician's question" not in output.answer
    assert truth.cited(output.answer) == refs and day in output.answer
    assert any("repeats the instructions" in n for n in output.notes)
    assert "repeats the instructions" in model.calls[1].user  # the repair prompt says why


async def test_clinical_answer_without_any_citation_is_rejected(
    fhir: FhirClient, record: PatientRecord
) -> None:
    model = ScriptedModel(["Her HbA1c is well documented.", "Her HbA1c is fine."])
    output = await ask_agent(fhir, record, LATEST, model)
    assert output.fallback and any("cites no evidence" in n for n in output.notes)
    assert truth.cited(output.answer) == latest_hba1c(record)[2]


async def test_honest_uncited_answer_is_accepted(fhir: FhirClient, record: PatientRecord) -> None:
    model = ScriptedModel(["The evidence does not answer the question."])
    output = await ask_agent(fhir, record, LATEST, model)
    assert not output.fallback and output.answer == "The evidence does not answer the question."


async def test_the_prompt_example_citation_names_no_evidence(
    fhir: FhirClient, record: PatientRecord
) -> None:
    """The instructions' example key is [0]; evidence aliases start at 1."""
    day, value, _ = latest_hba1c(record)
    model = ScriptedModel([f"The most recent HbA1c was {value} % on {day} [0]."] * 2)
    output = await ask_agent(fhir, record, LATEST, model)
    assert "[0]" in model.calls[0].system and "[0]" not in model.calls[0].user
    # Issue 14: after the fallback, the rejected draft's "0" leaves nothing behind.
    assert output.fallback and output.citations
    assert all(c.verified and c.reference != "0" for c in output.citations)


async def test_count_answer_states_the_count_first_citing_what_it_counted(
    dataset: Dataset, fhir: FhirClient
) -> None:
    def in_year(r: PatientRecord, year: str) -> list[dict[str, Any]]:
        return [e for e in r.of("Encounter") if truth.day(e).startswith(year)]

    record = max(dataset.patients, key=lambda r: len(in_year(r, "2023")))
    expected = {truth.ref(e) for e in in_year(record, "2023")}
    question = "How many encounters did the patient have in 2023?"
    output = await ask_agent(fhir, record, question)
    first = output.answer.splitlines()[0]
    assert first.startswith(f"The patient had {len(expected)} encounters in 2023 [")
    assert truth.cited(first) == expected and all(c.verified for c in output.citations)


async def test_first_prescribed_answer_gives_the_earliest_order(
    dataset: Dataset, fhir: FhirClient
) -> None:
    def drugs(r: PatientRecord) -> list[str]:
        return [
            str(o["medicationCodeableConcept"]["coding"][0]["display"])
            for o in r.of("MedicationRequest")
            if "medicationCodeableConcept" in o
        ]

    record = max(dataset.patients, key=lambda r: len(drugs(r)) - len(set(drugs(r))))
    names = drugs(record)
    drug = max(sorted(set(names)), key=names.count)
    orders = [
        o
        for o in record.of("MedicationRequest")
        if o.get("medicationCodeableConcept", {}).get("coding", [{}])[0].get("display") == drug
    ]
    first = min(orders, key=lambda o: o["authoredOn"])
    question = f"When was {drug} first prescribed?"
    output = await ask_agent(fhir, record, question)
    assert f"was first prescribed on {truth.day(first)} [" in output.answer
    assert truth.cited(output.answer) == {truth.ref(first)}


async def test_answer_that_echoes_the_question_and_cue_around_a_real_citation_is_rejected(
    fhir: FhirClient, record: PatientRecord
) -> None:
    """A small model parrots the user turn's frame ("Question: ... Answer with
    citations:") around a real alias: an echo of the prompt, not an answer."""

    def echo(system: str, user: str, schema: Any) -> str:
        real = re.search(r"\[(\d+)\]", user.split("Evidence:\n", 1)[1])
        assert real
        asked = re.search(r"^Question: .*$", user, re.MULTILINE)
        assert asked
        return f"{asked.group(0)}\nAnswer with citations: [{real.group(1)}]"

    model = ScriptedModel([echo, echo])
    output = await ask_agent(fhir, record, LATEST, model)
    day, _, refs = latest_hba1c(record)
    assert output.fallback and output.answer.endswith(FALLBACK_NOTE)
    assert "Answer with citations" not in output.answer
    assert truth.cited(output.answer) == refs and day in output.answer
    assert any("repeats the instructions" in n for n in output.notes)


async def test_an_answer_may_repeat_the_question_s_own_words(
    fhir: FhirClient, record: PatientRecord
) -> None:
    """Repeating the question is not an echo of the prompt: only its frame is."""
    day, value, _ = latest_hba1c(record)
    question = "What was the most recent HbA1c result on file?"

    def write(system: str, user: str, schema: Any) -> str:
        alias = alias_of(user, day)
        return f"The most recent HbA1c result on file was {value} % on {day} [{alias}]."

    model = ScriptedModel([write])
    output = await ask_agent(fhir, record, question, model)
    assert not output.fallback, output.notes
    assert day in output.answer


async def test_a_question_in_another_language_is_declined_with_a_model_too(
    fhir: FhirClient, record: PatientRecord
) -> None:
    """The rules cannot read the question, so neither can they check what a model makes
    of it: declined before any planning, as without a model."""
    model = ScriptedModel([])
    output = await ask_agent(fhir, record, "Quel est le dernier HbA1c du patient ?", model)
    assert "English" in output.answer and not output.citations
    assert not model.calls and not [s for s in output.steps if s.node == "act"]
