"""Our schema checker agrees with the reference jsonschema on the keywords we use."""

from __future__ import annotations

from typing import Any

import pytest

from agent.models.base import InvalidModelOutput
from agent.models.json_output import parse_json_output, schema_errors
from tests.support.models_helpers import TOOL_SCHEMA

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "tool": {"enum": ["a", "b"]},
        "n": {"type": "integer", "minimum": 0, "maximum": 9},
        "q": {"type": "string", "maxLength": 5, "pattern": "^[a-z]*$"},
        "ids": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        "flag": {"type": "boolean"},
        "opt": {"anyOf": [{"type": "null"}, {"type": "number"}]},
    },
    "required": ["tool", "n"],
    "additionalProperties": False,
}

CASES: list[Any] = [
    {"tool": "a", "n": 3},
    {"tool": "b", "n": 0, "q": "abc", "ids": ["x"], "flag": True, "opt": None},
    {"tool": "b", "n": 9, "opt": 2.5},
    {"tool": "c", "n": 3},
    {"tool": "a", "n": 10},
    {"tool": "a", "n": -1},
    {"tool": "a", "n": 1.5},
    {"tool": "a", "n": True},
    {"tool": "a"},
    {"tool": "a", "n": 1, "extra": 1},
    {"tool": "a", "n": 1, "q": "toolong"},
    {"tool": "a", "n": 1, "q": "ABC"},
    {"tool": "a", "n": 1, "ids": ["1", "2", "3"]},
    {"tool": "a", "n": 1, "ids": [1]},
    {"tool": "a", "n": 1, "flag": 1},
    {"tool": "a", "n": 1, "opt": "x"},
    ["tool"],
    "a",
]


@pytest.mark.parametrize("value", CASES)
def test_agrees_with_jsonschema(value: Any) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    reference_ok = jsonschema.Draft202012Validator(SCHEMA).is_valid(value)
    assert (schema_errors(value, SCHEMA) == []) == reference_ok


def test_parse_returns_the_value() -> None:
    assert parse_json_output('{"tool": "a", "n": 2}', TOOL_SCHEMA, source="m") == {
        "tool": "a",
        "n": 2,
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"tool": "a", "n": ', "not valid JSON"),
        ('{"tool": "a\nb", "n": 1}', "not valid JSON"),  # raw control character
        ('{"tool": "z", "n": 1}', r"\$\.tool: 'z' is not one of"),
        ('{"tool": "a", "n": 12}', r"\$\.n: 12 is above the maximum 9"),
    ],
)
def test_parse_rejects_with_the_raw_text(text: str, message: str) -> None:
    with pytest.raises(InvalidModelOutput, match=message) as info:
        parse_json_output(text, TOOL_SCHEMA, source="m")
    assert info.value.raw == text
