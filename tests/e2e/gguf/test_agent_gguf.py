"""The whole graph on the real Gemma 3 270M GGUF through llama.cpp.

The 270M base model writes nonsense, so this asserts structure, never wording: every
planning output parses and validates against the schema it was constrained by (100%),
and every final output meets the contract (each citation in the answer verified, or the
extractive fallback used and said so).  Questions mix single-fact ones (the rules pick the
tool, the model only answers) and open ones (the model plans under the grammar).
"""

from __future__ import annotations

import json
import time

import pytest

from agent import AgentOutput, ask, build_graph
from agent.extractive import FALLBACK_NOTE
from agent.models.base import ChatModel
from agent.planner.schema import validate_against_schema
from fhir_client.embedded import embedded_client
from tests.support import agent_truth as truth
from tests.support.agent_ask import agent_context
from tests.support.models_helpers import GEMMA_CONTEXT, RecordingModel
from tests.support.tools_datasets import Dataset

pytestmark = pytest.mark.slow

QUESTIONS = (
    "What was the most recent HbA1c?",
    "When was the last flu shot?",
    "What medications is the patient taking?",
    "Does the patient have any allergies?",
    "When was the last visit?",
    "What are the active problems?",
    "Is the diabetes well controlled?",
    "How is the kidney function doing?",
    "Anything notable about cardiovascular risk?",
    "What happened at the most recent hospital stay?",
    "Summarize the recent lab work.",
)
CONFIG = {"answer_max_tokens": 64, "plan_max_tokens": 160, "context_window": GEMMA_CONTEXT}


def assert_contract(output: AgentOutput) -> None:
    AgentOutput.model_validate_json(output.model_dump_json())
    evidence = {e.reference for e in output.evidence}
    in_text = truth.cited(output.answer)
    assert in_text <= evidence, in_text - evidence
    verified = {c.reference for c in output.citations if c.verified}
    assert in_text <= verified
    if output.fallback:
        assert output.answer.endswith(FALLBACK_NOTE)
    for step in output.steps:
        if step.node == "act" and step.error is None:
            assert step.count >= 0


async def test_gemma_270m_runs_the_whole_graph(dataset: Dataset, gemma_270m: ChatModel) -> None:
    model = RecordingModel(gemma_270m)
    graph = build_graph()
    started = time.perf_counter()
    outputs: list[AgentOutput] = []
    async with embedded_client(dataset.store) as client:
        for record in dataset.patients[:2]:
            context = agent_context(client, record, model)
            for question in QUESTIONS:
                output = await ask(graph, context, question, configurable=CONFIG)
                assert_contract(output)
                outputs.append(output)
    elapsed = time.perf_counter() - started
    assert len(outputs) >= 20
    assert model.plans, "no question reached the model's planning step"
    for schema, text in model.plans:  # 100% of planning outputs parse and validate
        validate_against_schema(json.loads(text), schema)
    for output in outputs:
        assert output.tokens.llm_calls >= 1
        if output.steps and all(s.node == "act" for s in output.steps):
            # Rules picked the tools: one answer call, plus a repair at most.
            assert output.tokens.llm_calls <= 2
    print(
        f"\n270M GGUF: {len(outputs)} questions, {len(model.plans)} planning calls, "
        f"{sum(o.fallback for o in outputs)} fallbacks, {elapsed:.1f} s"
    )
