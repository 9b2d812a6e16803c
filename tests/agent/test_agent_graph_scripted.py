"""Every path of the graph, driven by a scripted model on a real fixture patient.

The model's outputs are scripted; everything else is real: the tools run through the
embedded FHIR facade on our Synthea fixtures, and expected values come from the bundle
JSON.  Scripted answers find the alias of the line they cite in the prompt they receive,
as a real model would.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agent import AgentContext, ask, build_graph, open_checkpointer, stream_answer
from agent.extractive import FALLBACK_NOTE
from agent.models.scripted import ScriptedModel
from fhir_client.embedded import embedded_client
from tests.support import agent_truth as truth
from tests.support.tools_datasets import Dataset, PatientRecord
from tools import make_toolset

COMPLEX = "Is her diabetes well controlled?"  # not a single fact: the model plans


@pytest.fixture(scope="module")
def record(dataset: Dataset) -> PatientRecord:
    """The fixture patient with the most HbA1c results (at least two days of them)."""
    best = max(dataset.patients, key=lambda r: len({truth.day(o) for o in truth.hba1c_results(r)}))
    assert len({truth.day(o) for o in truth.hba1c_results(best)}) >= 2
    return best


@pytest.fixture
async def client(dataset: Dataset) -> AsyncIterator[Any]:
    async with embedded_client(dataset.store) as fhir:
        yield fhir


def latest_hba1c(record: PatientRecord) -> tuple[str, float, set[str]]:
    latest_day, refs = truth.newest(truth.hba1c_results(record))
    value = next(
        r["valueQuantity"]["value"] for r in truth.hba1c_results(record) if truth.ref(r) in refs
    )
    return latest_day, value, refs


def plan(tool: str, **arguments: Any) -> str:
    return json.dumps({"action": tool, "arguments": arguments})


ANSWER = json.dumps({"action": "answer"})


def alias_of(user: str, day: str) -> str:
    """The alias the prompt gives to the HbA1c line of ``day``."""
    match = re.search(rf"^{day}:? [^\n]*?HbA1c [^\[\n]*\[(\d+)\]", user, re.MULTILINE)
    assert match, f"no HbA1c line for {day} in the prompt:\n{user}"
    return match.group(1)


def good_answer(record: PatientRecord) -> Any:
    day, value, _ = latest_hba1c(record)

    def write(system: str, user: str, schema: Any) -> str:
        return f"The most recent HbA1c was {value} % on {day} [{alias_of(user, day)}]."

    return write


def echo_first_line(system: str, user: str, schema: Any) -> str:
    """An answer that copies the first evidence line, citation included."""
    line = user.split("Evidence:\n", 1)[1].splitlines()[0]
    return f"The record shows: {line}."


def context(client: Any, record: PatientRecord, model: ScriptedModel | None) -> AgentContext:
    return AgentContext(toolset=make_toolset(client, record.id), model=model)


async def test_tool_loop_plans_acts_and_answers_with_verified_citations(
    client: Any, record: PatientRecord
) -> None:
    model = ScriptedModel(
        [
            plan("lab_results", name="HbA1c"),
            plan("conditions", status="all", name="diabetes"),
            ANSWER,
            good_answer(record),
        ]
    )
    output = await ask(build_graph(), context(client, record, model), COMPLEX)
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


async def test_step_budget_stops_planning(client: Any, record: PatientRecord) -> None:
    model = ScriptedModel(
        [plan("lab_results", name="HbA1c"), plan("medications"), good_answer(record)]
    )
    output = await ask(
        build_graph(),
        context(client, record, model),
        COMPLEX,
        configurable={"max_tool_calls": 2},
    )
    assert [s.tool for s in output.steps if s.node == "act"] == ["lab_results", "medications"]
    assert any("step budget of 2" in note for note in output.notes)
    assert model.remaining == 0 and not output.fallback


async def test_invalid_plan_is_retried_once_then_rules_take_over(
    client: Any, record: PatientRecord
) -> None:
    model = ScriptedModel(["this is not JSON", plan("drop_tables"), echo_first_line])
    output = await ask(build_graph(), context(client, record, model), COMPLEX)
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
    client: Any, record: PatientRecord
) -> None:
    day, value, refs = latest_hba1c(record)

    def answer(system: str, user: str, schema: Any) -> str:
        return f"The most recent HbA1c was {value} % on {day} [{alias_of(user, day)}][999]."

    model = ScriptedModel([answer])
    output = await ask(
        build_graph(), context(client, record, model), "What was the most recent HbA1c?"
    )
    assert "999" not in output.answer
    assert truth.cited(output.answer) == refs
    # Issue 14: the removed key is reported in the notes, never listed as a citation.
    assert {(c.reference, c.verified) for c in output.citations} == {(next(iter(refs)), True)}
    assert any("[999]" in note for note in output.notes)
    # Single-fact question: the rules chose the tool, the model only answered.
    assert output.tokens.llm_calls == 1 and not output.fallback


async def test_number_not_in_cited_evidence_is_caught_and_repaired(
    client: Any, record: PatientRecord
) -> None:
    day, value, refs = latest_hba1c(record)

    def wrong(system: str, user: str, schema: Any) -> str:
        return f"The most recent HbA1c was {value + 2.5:.1f} % on {day} [{alias_of(user, day)}]."

    model = ScriptedModel([wrong, good_answer(record)])
    output = await ask(
        build_graph(), context(client, record, model), "What was the most recent HbA1c?"
    )
    repair_prompt = model.calls[1].user
    assert f"The number {value + 2.5:.1f}" in repair_prompt
    assert "previous answer was rejected" in repair_prompt
    assert truth.cited(output.answer) == refs and str(value) in output.answer
    assert not output.fallback and output.tokens.llm_calls == 2


async def test_second_failure_falls_back_to_the_extractive_answer(
    client: Any, record: PatientRecord
) -> None:
    day, _, refs = latest_hba1c(record)
    model = ScriptedModel(
        ["The HbA1c was 42 on 1999-01-01 [1].", "The HbA1c was 43 on 1999-01-02 [1]."]
    )
    output = await ask(
        build_graph(), context(client, record, model), "What was the most recent HbA1c?"
    )
    assert output.fallback
    assert output.answer.endswith(FALLBACK_NOTE)
    assert truth.cited(output.answer) == refs and day in output.answer
    assert all(c.verified for c in output.citations)
    assert any("1999-01-02" in note for note in output.notes)
    assert model.remaining == 0


async def test_follow_up_in_the_same_thread_searches_before_the_earlier_answer(
    client: Any, record: PatientRecord
) -> None:
    days = sorted({truth.day(o) for o in truth.hba1c_results(record)}, reverse=True)
    async with open_checkpointer(":memory:") as saver:
        graph = build_graph(checkpointer=saver)
        ctx = context(client, record, None)
        first = await ask(graph, ctx, "What was the most recent HbA1c?", thread_id="t")
        second = await ask(graph, ctx, "and before that?", thread_id="t")
        other = await ask(graph, ctx, "and before that?", thread_id="fresh")
    assert days[0] in first.answer
    assert days[1] in second.answer and days[0] not in second.answer
    assert second.steps[0].arguments["until"] < days[0]
    assert second.answer.startswith("Before that")
    assert "no earlier results" in other.answer


async def test_the_state_s_reducers_keep_the_thread_and_reset_the_turn(
    client: Any, record: PatientRecord
) -> None:
    """Nodes return only what they add: the thread's evidence, aliases and turns grow
    across turns (aliases never move), and each turn's steps and notes start empty."""
    async with open_checkpointer(":memory:") as saver:
        graph = build_graph(checkpointer=saver)
        ctx = context(client, record, None)
        config = {"configurable": {"thread_id": "t"}}
        await ask(graph, ctx, "What was the most recent HbA1c?", thread_id="t")
        first = (await graph.aget_state(config)).values
        await ask(graph, ctx, "Any allergies?", thread_id="t")
        second = (await graph.aget_state(config)).values
    assert [t["question"] for t in second["turns"]] == [
        "What was the most recent HbA1c?",
        "Any allergies?",
    ]
    assert second["aliases"][: len(first["aliases"])] == first["aliases"]
    assert len(second["aliases"]) == len(set(second["aliases"]))
    assert set(second["evidence"]) == set(second["aliases"])
    first_steps, second_steps = first["current"]["steps"], second["current"]["steps"]
    assert first_steps and all(s["tool"] == "lab_results" for s in first_steps)
    assert second_steps and all(s["tool"] == "allergies" for s in second_steps)
    act_steps = [s for s in second_steps if s["node"] == "act"]
    assert all(second["evidence"][r]["turn"] == 2 for r in second["turns"][-1]["references"])
    assert len(act_steps) == len(second["turns"][-1]["calls"])


async def test_follow_up_answer_may_cite_evidence_from_an_earlier_turn(
    client: Any, record: PatientRecord
) -> None:
    day, value, refs = latest_hba1c(record)

    def cite_earlier(system: str, user: str, schema: Any) -> str:
        assert "Earlier in this conversation" in user
        return f"Yes: {value} % on {day} [{alias_of(user, day)}]."

    model = ScriptedModel([good_answer(record), cite_earlier])
    async with open_checkpointer(":memory:") as saver:
        graph = build_graph(checkpointer=saver)
        ctx = context(client, record, model)
        await ask(graph, ctx, "What was the most recent HbA1c?", thread_id="t")
        second = await ask(graph, ctx, "which of those was the newest?", thread_id="t")
    assert [s.node for s in second.steps] == []  # reused, nothing new retrieved
    assert truth.cited(second.answer) == refs and second.citations[0].verified


async def test_a_thread_cannot_switch_patients(dataset: Dataset, client: Any) -> None:
    first, second = dataset.patients[:2]
    async with open_checkpointer(":memory:") as saver:
        graph = build_graph(checkpointer=saver)
        await ask(graph, context(client, first, None), "Any allergies?", thread_id="t")
        with pytest.raises(ValueError, match="start a new thread"):
            await ask(graph, context(client, second, None), "Any allergies?", thread_id="t")


async def test_stream_emits_planning_tool_calls_tokens_and_done(
    client: Any, record: PatientRecord
) -> None:
    model = ScriptedModel([good_answer(record)])
    events = [
        e
        async for e in stream_answer(
            build_graph(), context(client, record, model), "What was the most recent HbA1c?"
        )
    ]
    kinds = [e.type for e in events]
    assert kinds[:3] == ["planning", "tool_call", "evidence"]
    assert events[1].data == {"tool": "lab_results", "arguments": {"name": "a1c", "mode": "latest"}}
    assert events[2].data["count"] == 1
    assert "token" in kinds and kinds[-1] == "done"
    streamed = "".join(e.data["text"] for e in events if e.type == "token")
    assert streamed.startswith("The most recent HbA1c")
    done = events[-1].data["output"]
    assert truth.cited(done["answer"]) == latest_hba1c(record)[2]


async def test_stream_reports_errors_as_an_event(client: Any, record: PatientRecord) -> None:
    events = [e async for e in stream_answer(build_graph(), context(client, record, None), "  ")]
    assert [e.type for e in events] == ["error"]
    assert "question is empty" in events[0].data["message"]


LATEST = "What was the most recent HbA1c?"


async def test_answer_that_echoes_the_prompt_with_a_real_citation_is_rejected(
    client: Any, record: PatientRecord
) -> None:
    """The Gemma 270M failure: prompt text parroted back, a real alias copied from it."""

    def echo(system: str, user: str, schema: Any) -> str:
        real = re.search(r"\[(\d+)\]", user.split("Evidence:\n", 1)[1])
        assert real
        return f"Answer with citations: {system} e.g. [{real.group(1)}]"

    model = ScriptedModel([echo, echo])
    output = await ask(build_graph(), context(client, record, model), LATEST)
    day, _, refs = latest_hba1c(record)
    assert output.fallback and output.answer.endswith(FALLBACK_NOTE)
    assert "clinician's question" not in output.answer
    assert truth.cited(output.answer) == refs and day in output.answer
    assert any("repeats the instructions" in n for n in output.notes)
    assert "repeats the instructions" in model.calls[1].user  # the repair prompt says why


async def test_clinical_answer_without_any_citation_is_rejected(
    client: Any, record: PatientRecord
) -> None:
    model = ScriptedModel(["Her HbA1c is well documented.", "Her HbA1c is fine."])
    output = await ask(build_graph(), context(client, record, model), LATEST)
    assert output.fallback and any("cites no evidence" in n for n in output.notes)
    assert truth.cited(output.answer) == latest_hba1c(record)[2]


async def test_honest_uncited_answer_is_accepted(client: Any, record: PatientRecord) -> None:
    model = ScriptedModel(["The evidence does not answer the question."])
    output = await ask(build_graph(), context(client, record, model), LATEST)
    assert not output.fallback and output.answer == "The evidence does not answer the question."


async def test_the_prompt_example_citation_names_no_evidence(
    client: Any, record: PatientRecord
) -> None:
    """The instructions' example key is [0]; evidence aliases start at 1."""
    day, value, _ = latest_hba1c(record)
    model = ScriptedModel([f"The most recent HbA1c was {value} % on {day} [0]."] * 2)
    output = await ask(build_graph(), context(client, record, model), LATEST)
    assert "[0]" in model.calls[0].system and "[0]" not in model.calls[0].user
    # Issue 14: after the fallback, the rejected draft's "0" leaves nothing behind.
    assert output.fallback and output.citations
    assert all(c.verified and c.reference != "0" for c in output.citations)


async def test_count_answer_states_the_count_first_citing_what_it_counted(
    dataset: Dataset, client: Any
) -> None:
    def in_year(r: PatientRecord, year: str) -> list[dict[str, Any]]:
        return [e for e in r.of("Encounter") if truth.day(e).startswith(year)]

    record = max(dataset.patients, key=lambda r: len(in_year(r, "2023")))
    expected = {truth.ref(e) for e in in_year(record, "2023")}
    question = "How many encounters did the patient have in 2023?"
    output = await ask(build_graph(), context(client, record, None), question)
    first = output.answer.splitlines()[0]
    assert first.startswith(f"The patient had {len(expected)} encounters in 2023 [")
    assert truth.cited(first) == expected and all(c.verified for c in output.citations)


async def test_first_prescribed_answer_gives_the_earliest_order(
    dataset: Dataset, client: Any
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
    output = await ask(build_graph(), context(client, record, None), question)
    assert f"was first prescribed on {truth.day(first)} [" in output.answer
    assert truth.cited(output.answer) == {truth.ref(first)}


async def test_answer_that_echoes_the_question_and_cue_around_a_real_citation_is_rejected(
    client: Any, record: PatientRecord
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
    output = await ask(build_graph(), context(client, record, model), LATEST)
    day, _, refs = latest_hba1c(record)
    assert output.fallback and output.answer.endswith(FALLBACK_NOTE)
    assert "Answer with citations" not in output.answer
    assert truth.cited(output.answer) == refs and day in output.answer
    assert any("repeats the instructions" in n for n in output.notes)


async def test_an_answer_may_repeat_the_question_s_own_words(
    client: Any, record: PatientRecord
) -> None:
    """Repeating the question is not an echo of the prompt: only its frame is."""
    day, value, _ = latest_hba1c(record)
    question = "What was the most recent HbA1c result on file?"

    def write(system: str, user: str, schema: Any) -> str:
        alias = alias_of(user, day)
        return f"The most recent HbA1c result on file was {value} % on {day} [{alias}]."

    model = ScriptedModel([write])
    output = await ask(build_graph(), context(client, record, model), question)
    assert not output.fallback, output.notes
    assert day in output.answer


async def test_a_question_in_another_language_is_declined_with_a_model_too(
    client: Any, record: PatientRecord
) -> None:
    """The rules cannot read the question, so neither can they check what a model makes
    of it: declined before any planning, as without a model."""
    model = ScriptedModel([])
    output = await ask(
        build_graph(), context(client, record, model), "Quel est le dernier HbA1c du patient ?"
    )
    assert "English" in output.answer and not output.citations
    assert not model.calls and not [s for s in output.steps if s.node == "act"]
