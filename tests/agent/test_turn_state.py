"""The turn's record in the graph state: one value a turn replaces whole, merged within it.

Checked on a real fixture patient through the embedded FHIR facade: a node's partial
record is merged (steps and notes appended, usage added up), a new turn leaves nothing
of the last one, a thread checkpointed before the record existed (the earlier, flat
state) still takes its next turn, and a turn derives each view of its state once (each
tool result decoded once, one alias map).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent import AgentContext, ask, build_graph, open_checkpointer
from agent.models.scripted import ScriptedModel
from agent.results import derived_counts
from agent.state import empty_usage, merge_turn, new_turn
from fhir_client import FhirClient
from tests.support.agent_ask import agent_context
from tests.support.tools_datasets import Dataset, PatientRecord


@pytest.fixture(scope="module")
def record(dataset: Dataset) -> PatientRecord:
    return dataset.patients[0]


def test_a_node_s_partial_record_is_merged_field_by_field() -> None:
    step = {"node": "plan", "tool": None, "arguments": {}, "count": 0, "source": "model"}
    usage = {**empty_usage(), "llm_calls": 1, "prompt_tokens": 10}
    first = merge_turn(new_turn(), {"steps": [step], "notes": ["a"], "usage": usage})
    second = merge_turn(first, {"steps": [step], "notes": ["b"], "usage": usage, "draft": "x"})
    assert len(second["steps"]) == 2 and second["notes"] == ["a", "b"]
    assert second["usage"]["llm_calls"] == 2 and second["usage"]["prompt_tokens"] == 20
    assert second["draft"] == "x" and first["draft"] == ""  # replaced, never mutated
    assert new_turn()["steps"] is not new_turn()["steps"]  # no list shared between turns
    with pytest.raises(KeyError, match="answr"):
        merge_turn(first, {"answr": "misspelt"})


async def test_a_new_turn_keeps_nothing_of_the_last_one(
    fhir: FhirClient, record: PatientRecord
) -> None:
    async with open_checkpointer(":memory:") as saver:
        graph = build_graph(checkpointer=saver)
        ctx = agent_context(fhir, record)
        config = {"configurable": {"thread_id": "t"}}
        await ask(graph, ctx, "What medications is the patient taking?", thread_id="t")
        first = (await graph.aget_state(config)).values["current"]
        # A turn that fails once its record is replaced (the question is over the limit).
        with pytest.raises(ValueError, match="characters"):
            await graph.ainvoke({"question": "x" * 100_000}, config, context=ctx)
        after = (await graph.aget_state(config)).values
    assert first["answer"] and first["steps"] and first["citations"]
    assert after["current"] == new_turn()
    assert after["turns"][-1]["answer"] == first["answer"]  # the thread keeps its turns


async def test_a_thread_checkpointed_before_the_turn_record_takes_its_next_turn(
    fhir: FhirClient, record: PatientRecord
) -> None:
    """Earlier versions kept the turn's fields at the top of the state: such a thread
    loses nothing it needs (turns, evidence, aliases are where they were), and the flat
    leftovers are ignored."""
    async with open_checkpointer(":memory:") as saver:
        graph = build_graph(checkpointer=saver)
        ctx = agent_context(fhir, record)
        config: Any = {"configurable": {"thread_id": "old"}}
        first = await ask(graph, ctx, "What medications is the patient taking?", thread_id="old")
        saved = await saver.aget_tuple(config)
        assert saved is not None
        checkpoint = saved.checkpoint
        values = checkpoint["channel_values"]
        flat = values.pop("current")
        versions = checkpoint["channel_versions"]
        version = versions.pop("current")
        for key in ("answer", "citations", "steps", "notes", "route", "usage"):
            values[key] = flat[key]
            versions[key] = version
        await saver.aput(saved.config, checkpoint, saved.metadata, dict(versions))
        assert not (await graph.aget_state(config)).values.get("current")  # an empty record
        second = await ask(graph, ctx, "Does the patient have any allergies?", thread_id="old")
        state = (await graph.aget_state(config)).values
    assert first.citations and second.answer != first.answer
    assert [t["question"] for t in state["turns"]][-1] == "Does the patient have any allergies?"
    assert {s.tool for s in second.steps if s.node == "act"} == {"allergies"}
    assert "answer" not in state and state["current"]["answer"] == second.answer


async def test_a_turn_decodes_each_result_once_and_builds_one_alias_map(
    fhir: FhirClient, record: PatientRecord
) -> None:
    graph = build_graph()
    rules = agent_context(fhir, record)
    before = derived_counts()
    output = await ask(graph, rules, "What was the latest blood pressure?")
    after = derived_counts()
    results = sum(1 for s in output.steps if s.node == "act" and s.error is None)
    assert results >= 1
    assert after["decoded_results"] - before["decoded_results"] == results
    assert after["alias_maps"] - before["alias_maps"] == 1

    # The model plans two calls, then drafts twice wrongly: every node reads the results
    # (planner, answer prompt, repair, fallback, verifier), each decoded once; the alias
    # map is built once per alias list (the first plan, then after each call).
    model = ScriptedModel(
        [
            json.dumps({"action": "lab_results", "arguments": {"name": "HbA1c"}}),
            json.dumps({"action": "conditions", "arguments": {"status": "all"}}),
            json.dumps({"action": "answer"}),
            "It is 99 [1].",
            "It is 98 [1].",
        ]
    )
    before = derived_counts()
    output = await ask(
        graph, AgentContext(toolset=rules.toolset, model=model), "Is her diabetes well controlled?"
    )
    after = derived_counts()
    calls = [s for s in output.steps if s.node == "act"]
    assert output.fallback and len(calls) == 2 and model.remaining == 0
    assert after["decoded_results"] - before["decoded_results"] == 2
    assert after["alias_maps"] - before["alias_maps"] <= 1 + len(calls)
