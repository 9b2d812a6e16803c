"""Shared pieces for the model tests: the small schema, real GGUF paths, a recorder.

The real-model tests skip (with the reason) where the packaged test models
are not installed, since they are an optional extra.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.models.base import ChatModel, Completion, ModelUnavailable, TokenCallback
from agent.models.openai_backend import OpenAICompatibleModel
from agent.models.structured_forms import GRAMMAR_MODES, StructuredMode

TOOL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "tool": {"enum": ["a", "b"]},
        "n": {"type": "integer", "minimum": 0, "maximum": 9},
    },
    "required": ["tool", "n"],
    "additionalProperties": False,
}


ONE_WORD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"word": {"enum": ["zebra-17"]}},
    "required": ["word"],
    "additionalProperties": False,
}
"""A schema the base model would never follow unprompted: output obeying it was enforced."""


async def assert_forms_enforced(
    model: OpenAICompatibleModel, modes: Sequence[StructuredMode]
) -> None:
    """Each of ``modes``, sent to ``model``'s server with :data:`ONE_WORD_SCHEMA`, is
    enforced, not advisory.

    Under our grammar the output is exactly the one object.  Under the server's own schema
    conversion (llama.cpp's, xgrammar's) the model may pad whitespace until the budget
    ends, so what it writes between the padding must be a prefix of that object.
    """
    async with httpx.AsyncClient(timeout=model.timeout) as client:
        for mode in modes:
            body = model.request_body(
                "",
                "Say hello.",
                json_schema=ONE_WORD_SCHEMA,
                max_tokens=64,
                temperature=0.0,
                stream=False,
                mode=mode,
            )
            answer = (await client.post(f"{model.base_url}/chat/completions", json=body)).json()
            content = answer["choices"][0]["message"]["content"]
            if mode in GRAMMAR_MODES:
                assert json.loads(content) == {"word": "zebra-17"}, (mode, content)
            else:
                compact = "".join(content.split())
                assert compact and '{"word":"zebra-17"}'.startswith(compact), (mode, content)


GEMMA_CONTEXT = 4096
"""The context the whole-graph GGUF tests load the 270M model with and give the graph
(``context_window``): one number, so the graph never budgets past what the model holds."""


def gemma_270m_path() -> Path:
    """The assembled Gemma 3 270M GGUF, or skip when the extra is missing."""
    pytest.importorskip("llama_cpp")
    from agent.models.spec import small_test_model_path

    try:
        return small_test_model_path()
    except ModelUnavailable as exc:
        pytest.skip(str(exc))


def smollm2_gguf_path() -> Path:
    """The packaged SmolLM2 GGUF, or skip when the extra is missing."""
    pytest.importorskip("llama_cpp")
    from agent.models.spec import smollm2_path

    try:
        return smollm2_path()
    except ModelUnavailable as exc:
        pytest.skip(str(exc))


def validate(value: Any, schema: dict[str, Any]) -> None:
    """Validate with the reference implementation when installed, else ours."""
    try:
        import jsonschema
    except ImportError:
        from agent.models.json_output import schema_errors

        assert schema_errors(value, schema) == []
    else:
        jsonschema.validate(value, schema)


class RecordingModel:
    """Wraps a model; records every prompt it was given and every planning output."""

    def __init__(self, model: ChatModel) -> None:
        self.model = model
        self.name = model.name
        self.context_window = model.context_window
        self.prompts: list[tuple[str, str]] = []
        self.plans: list[tuple[dict[str, Any], str]] = []

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    async def complete(
        self,
        system: str,
        user: str,
        *,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
        on_token: TokenCallback | None = None,
    ) -> Completion:
        self.prompts.append((system, user))
        completion = await self.model.complete(
            system,
            user,
            json_schema=json_schema,
            max_tokens=max_tokens,
            temperature=temperature,
            on_token=on_token,
        )
        if json_schema is not None:
            self.plans.append((json_schema, completion.text))
        return completion


def default_plan_schema() -> dict[str, Any]:
    """The planning schema over every default tool: what a planner model is sent."""
    from agent.planner.schema import planning_schema
    from tools import DEFAULT_TOOLS

    return planning_schema(list(DEFAULT_TOOLS))
