"""The graph's tool loop, driven by a scripted model on a real fixture patient: planning,
acting, the step budget, a retried plan, repair and the extractive fallback.

The model's outputs are scripted; everything else is real: the tools run through the
embedded FHIR facade on our Synthea fixtures, and expected values come from the bundle
JSON.  The replies and the patient are in ``tests/support/scripted_graph.py``.
"""

from __future__ import annotations

import json
from typing import Any

from agent import ask, build_graph
from agent.extractive import FALLBACK_NOTE
from agent.models.scripted import ScriptedModel
from fhir_client import FhirClient
from tests.support import agent_truth as truth
from tests.support.agent_ask import agent_context, ask_agent
from tests.support.scripted_graph import (
    ANSWER,
    COMPLEX,
    alias_of,
    echo_first_line,
    good_answer,
    latest_hba1c,
    plan,
    record,
)
from tests.support.tools_datasets import PatientRecord

__all__ = ["record"]  # a fixture used here by name


async def test_tool_loop_plans_acts_and_answers_with_verified_citations(
    fhir: FhirClient, record: PatientRecord
) -> None:
    model = ScriptedModel(
        [
            plan("lab_results", name="HbA1c"),
            plan("conditions", status="all", name="diabetes"),
            ANSWER,
            good_answer(record),
        ]
    )
    output = await ask_agent(fhir, record, COMPLEX, model)
    day, _, refs = latest_hba1c(record)
    assert [(s.node, s.tool) for s in output.steps] == [
        ("plan", None),
        ("act", "lab_results"),
        ("plan", None),
        ("act", "conditions"),
        ("plan", None),
    ]
    assert {s.source for s in output.steps if s.node == "act"} == {"model"}
    conditions = [e for e in output.evidence if e.tool == "conditions"]
    assert output.steps[3].count == len(conditions) >= 1
    assert all("diabetes" in e.line.lower() for e in conditions)
    assert truth.cited(output.answer) == refs and day in output.answer
    assert [c.verified for c in output.citations] == [True]
    assert not output.fallback and model.remaining == 0
    assert output.tokens.llm_calls == 4
    # Planning calls carry the grammar schema; the answer call does not.
    assert [c.json_schema is not None for c in model.calls] == [True, True, True, False]
    # The patient id never reaches the model's schema: the caller fixed it.
    assert record.id not in json.dumps(model.calls[0].json_schema)


async def test_step_budget_stops_planning(fhir: FhirClient, record: PatientRecord) -> None:
    model = ScriptedModel(
        [plan("lab_results", name="HbA1c"), plan("medications"), good_answer(record)]
    )
    output = await ask(
        build_graph(),
        agent_context(fhir, record, model),
        COMPLEX,
        configurable={"max_tool_calls": 2},
    )
    assert [s.tool for s in output.steps if s.node == "act"] == ["lab_results", "medications"]
    assert any("step budget of 2" in note for note in output.notes)
    assert model.remaining == 0 and not output.fallback


async def test_invalid_plan_is_retried_once_then_rules_take_over(
    fhir: FhirClient, record: PatientRecord
) -> None:
    model = ScriptedModel(["this is not JSON", plan("drop_tables"), echo_first_line])
    output = await ask_agent(fhir, record, COMPLEX, model)
    plan_step = output.steps[0]
    assert plan_step.node == "plan" and plan_step.arguments == {"action": "invalid"}
    assert plan_step.error and "not JSON" in plan_step.error
    assert "matches 0 of the allowed actions" in plan_step.error
    # The rules read "diabetes" and look it up in the record (conditions, care plans, ...).
    assert [(s.tool, s.source) for s in output.steps[1:]] == [("find_concept", "rules")]
    assert output.steps[1].arguments["name"] == "diabetes"
    assert any("rule-based planner took over" in n for n in output.notes)
    assert output.tokens.llm_calls == 3
    assert not output.fallback and all(c.verified for c in output.citations)


async def test_citation_of_unretrieved_evidence_is_removed(
    fhir: FhirClient, record: PatientRecord
) -> None:
    day, value, refs = latest_hba1c(record)

    def answer(system: str, user: str, schema: Any) -> str:
        return f"The most recent HbA1c was {value} % on {day} [{alias_of(user, day)}][999]."

    model = ScriptedModel([answer])
    output = await ask_agent(fhir, record, "What was the most recent HbA1c?", model)
    assert "999" not in output.answer
    assert truth.cited(output.answer) == refs
    # Issue 14: the removed key is reported in the notes, never listed as a citation.
    assert {(c.reference, c.verified) for c in output.citations} == {(next(iter(refs)), True)}
    assert any("[999]" in note for note in output.notes)
    # Single-fact question: the rules chose the tool, the model only answered.
    assert output.tokens.llm_calls == 1 and not output.fallback


async def test_number_not_in_cited_evidence_is_caught_and_repaired(
    fhir: FhirClient, record: PatientRecord
) -> None:
    day, value, refs = latest_hba1c(record)

    def wrong(system: str, user: str, schema: Any) -> str:
        return f"The most recent HbA1c was {value + 2.5:.1f} % on {day} [{alias_of(user, day)}]."

    model = ScriptedModel([wrong, good_answer(record)])
    output = await ask_agent(fhir, record, "What was the most recent HbA1c?", model)
    repair_prompt = model.calls[1].user
    assert f"The number {value + 2.5:.1f}" in repair_prompt
    assert "previous answer was rejected" in repair_prompt
    assert truth.cited(output.answer) == refs and str(value) in output.answer
    assert not output.fallback and output.tokens.llm_calls == 2


async def test_second_failure_falls_back_to_the_extractive_answer(
    fhir: FhirClient, record: PatientRecord
) -> None:
    day, _, refs = latest_hba1c(record)
    model = ScriptedModel(
        ["The HbA1c was 42 on 1999-01-01 [1].", "The HbA1c was 43 on 1999-01-02 [1]."]
    )
    output = await ask_agent(fhir, record, "What was the most recent HbA1c?", model)
    assert output.fallback
    assert output.answer.endswith(FALLBACK_NOTE)
    assert truth.cited(output.answer) == refs and day in output.answer
    assert all(c.verified for c in output.citations)
    assert any("1999-01-02" in note for note in output.notes)
    assert model.remaining == 0
