"""Under a grammar, the token budget never cuts a valid object off.

``longest_output`` bounds what a schema's grammar admits; the llama.cpp backend raises a
smaller ``max_tokens`` to it, so a tiny budget still ends in valid JSON, not a cut-off
(which the planner would count as an invalid plan).
"""

from __future__ import annotations

import json

import pytest

from agent.models.grammar import longest_output, narrow_schema
from agent.planner.schema import planning_schema
from agent.reading.model_reading import READING_SCHEMA
from tests.support.models_helpers import TOOL_SCHEMA, gemma_270m_path
from tools import DEFAULT_TOOLS


def test_the_bound_covers_the_longest_object_the_schema_admits() -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 12},
            "tags": {
                "type": "array",
                "items": {"type": "string", "enum": ["a", "longest"]},
                "maxItems": 3,
            },
            "mode": {"const": "series"},
        },
        "required": ["name", "tags", "mode"],
        "additionalProperties": False,
    }
    longest = {"name": "x" * 12, "tags": ["longest"] * 3, "mode": "series"}
    bound = longest_output(schema)
    assert bound is not None and bound >= len(json.dumps(longest))
    assert longest_output({"type": "string"}) is None  # unbounded: no bound claimed
    assert longest_output({"type": "array", "items": {"type": "integer"}}) is None


def test_the_product_s_schemas_are_bounded() -> None:
    for schema in (planning_schema(DEFAULT_TOOLS), READING_SCHEMA, TOOL_SCHEMA):
        bound = longest_output(narrow_schema(schema))
        assert bound is not None and bound < 1000, bound


@pytest.mark.slow
async def test_a_tiny_budget_still_ends_in_valid_json_on_the_real_model() -> None:
    from agent.models.llama_cpp_backend import LlamaCppModel

    model = LlamaCppModel(gemma_270m_path(), n_ctx=1024, prefix_cache=False)
    completion = await model.complete(
        "Reply with JSON.",
        "Fill the form: tool a or b, n a digit.",
        json_schema=TOOL_SCHEMA,
        max_tokens=2,  # far below the object's length: raised to the grammar's bound
    )
    value = json.loads(completion.text)
    assert value["tool"] in ("a", "b") and 0 <= value["n"] <= 9
