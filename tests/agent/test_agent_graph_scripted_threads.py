"""The graph over a conversation and as a stream, with a scripted model on a real patient:
follow-ups in a thread, the state's reducers, one patient per thread, streamed events.

The model's outputs are scripted; everything else is real: the tools run through the
embedded FHIR facade on our Synthea fixtures, and expected values come from the bundle
JSON.  The replies and the patient are in ``tests/support/scripted_graph.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from agent import ask, build_graph, open_checkpointer, stream_answer
from agent.models.scripted import ScriptedModel
from fhir_client import FhirClient
from tests.support import agent_truth as truth
from tests.support.agent_ask import agent_context
from tests.support.scripted_graph import (
    alias_of,
    good_answer,
    latest_hba1c,
    record,
)
from tests.support.tools_datasets import Dataset, PatientRecord

__all__ = ["record"]  # a fixture used here by name


async def test_follow_up_in_the_same_thread_searches_before_the_earlier_answer(
    fhir: FhirClient, record: PatientRecord
) -> None:
    days = sorted({truth.day(o) for o in truth.hba1c_results(record)}, reverse=True)
    async with open_checkpointer(":memory:") as saver:
        graph = build_graph(checkpointer=saver)
        ctx = agent_context(fhir, record)
        first = await ask(graph, ctx, "What was the most recent HbA1c?", thread_id="t")
        second = await ask(graph, ctx, "and before that?", thread_id="t")
        other = await ask(graph, ctx, "and before that?", thread_id="fresh")
    assert days[0] in first.answer
    assert days[1] in second.answer and days[0] not in second.answer
    assert second.steps[0].arguments["until"] < days[0]
    assert second.answer.startswith("Before that")
    assert "no earlier results" in other.answer


async def test_the_state_s_reducers_keep_the_thread_and_reset_the_turn(
    fhir: FhirClient, record: PatientRecord
) -> None:
    """Nodes return only what they add: the thread's evidence, aliases and turns grow
    across turns (aliases never move), and each turn's steps and notes start empty."""
    async with open_checkpointer(":memory:") as saver:
        graph = build_graph(checkpointer=saver)
        ctx = agent_context(fhir, record)
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
    fhir: FhirClient, record: PatientRecord
) -> None:
    day, value, refs = latest_hba1c(record)

    def cite_earlier(system: str, user: str, schema: Any) -> str:
        assert "Earlier in this conversation" in user
        return f"Yes: {value} % on {day} [{alias_of(user, day)}]."

    model = ScriptedModel([good_answer(record), cite_earlier])
    async with open_checkpointer(":memory:") as saver:
        graph = build_graph(checkpointer=saver)
        ctx = agent_context(fhir, record, model)
        await ask(graph, ctx, "What was the most recent HbA1c?", thread_id="t")
        second = await ask(graph, ctx, "which of those was the newest?", thread_id="t")
    assert [s.node for s in second.steps] == []  # reused, nothing new retrieved
    assert truth.cited(second.answer) == refs and second.citations[0].verified


async def test_a_thread_cannot_switch_patients(dataset: Dataset, fhir: FhirClient) -> None:
    first, second = dataset.patients[:2]
    async with open_checkpointer(":memory:") as saver:
        graph = build_graph(checkpointer=saver)
        await ask(graph, agent_context(fhir, first), "Any allergies?", thread_id="t")
        with pytest.raises(ValueError, match="start a new thread"):
            await ask(graph, agent_context(fhir, second), "Any allergies?", thread_id="t")


async def test_stream_emits_planning_tool_calls_tokens_and_done(
    fhir: FhirClient, record: PatientRecord
) -> None:
    model = ScriptedModel([good_answer(record)])
    events = [
        e
        async for e in stream_answer(
            build_graph(), agent_context(fhir, record, model), "What was the most recent HbA1c?"
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


async def test_stream_reports_errors_as_an_event(fhir: FhirClient, record: PatientRecord) -> None:
    events = [e async for e in stream_answer(build_graph(), agent_context(fhir, record), "  ")]
    assert [e.type for e in events] == ["error"]
    assert "question is empty" in events[0].data["message"]
