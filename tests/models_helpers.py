"""Shared pieces for the model tests: the small schema and real GGUF paths.

The real-model tests skip (with the reason) where the packaged test models
are not installed, since they are an optional extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.models.base import ModelUnavailable

TOOL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "tool": {"enum": ["a", "b"]},
        "n": {"type": "integer", "minimum": 0, "maximum": 9},
    },
    "required": ["tool", "n"],
    "additionalProperties": False,
}


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
