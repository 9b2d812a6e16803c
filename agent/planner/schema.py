"""The planning step's JSON Schema, shaped so llama.cpp can compile it to a grammar.

One object per allowed tool (``{"action": <tool>, "arguments": {...}}``) plus
``{"action": "answer"}``, combined with ``oneOf``.  llama-cpp-python's schema-to-grammar
converter handles ``oneOf``, ``const``, ``enum``, ``maxLength`` and simple character-class
patterns, but not ``\\d`` in patterns (it emits a literal) nor integer bounds (it emits an
unbounded integer).  So the tool schemas are rewritten for the grammar: dates are
calendar forms (years 1900-2099, months 01-12, days 01-31; ``[0-9]{2}`` admitted
``2024-00``), integers become a short ``enum`` of values within their bounds, numbers
(thresholds) travel as a short decimal string that :func:`parse_plan` turns back into a
number (the converter's number rule admits ``1e9999``, out of every tool's range), and
every free string gets a printable character class and a length bound (the default
grammar admits control characters, and an unbounded string lets a small model generate
forever).  Everything the grammar admits is also valid for ``tools.validate_arguments``;
``tests/agent/test_agent_planner.py`` walks the schema to keep it so.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agent.state import ToolCall
from tools import TOOLS, ToolArgumentError, validate_arguments

__all__ = ["PlanningError", "parse_plan", "planning_schema", "validate_against_schema"]

Schema = dict[str, Any]

ANSWER = "answer"
_DATE_PATTERN = "^(19|20)[0-9]{2}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?$"
_NUMBER_PATTERN = "^-?[0-9]{1,5}([.][0-9]{1,2})?$"
"""A threshold as the grammar writes it: within every tool's numeric bounds."""
_LIMIT_CHOICES = (1, 3, 5, 10, 20, 50)
_MAX_NAME = 40


class PlanningError(ValueError):
    """The model's planning output is not one valid action (message says why)."""


def _text_pattern(max_length: int) -> str:
    return f"^[A-Za-z0-9 ,.'()/+-]{{1,{max_length}}}$"


def _for_grammar(schema: Schema) -> Schema:
    kind = schema.get("type")
    if kind == "object":
        return {
            "type": "object",
            "properties": {k: _for_grammar(v) for k, v in schema["properties"].items()},
            "required": list(schema.get("required", [])),
            "additionalProperties": False,
        }
    if kind == "array":
        return {
            "type": "array",
            "items": _for_grammar(schema["items"]),
            "maxItems": schema.get("maxItems", 5),
        }
    if kind == "number":  # thresholds ("above 7"): a bounded decimal, see the module doc
        return {"type": "string", "pattern": _NUMBER_PATTERN, "maxLength": 9}
    if kind == "integer":
        low, high = schema.get("minimum", 1), schema.get("maximum", 50)
        return {"type": "integer", "enum": [v for v in _LIMIT_CHOICES if low <= v <= high]}
    if kind == "string":
        if "enum" in schema:
            return {"type": "string", "enum": list(schema["enum"])}
        # Names are short ("HbA1c", "blood pressure"); 40 characters keeps the worst-case
        # plan inside the planning call's token budget, so output is never cut off.
        max_length = min(int(schema.get("maxLength", 40)), _MAX_NAME)
        if "pattern" in schema and "\\d{4}" in schema["pattern"]:
            return {"type": "string", "pattern": _DATE_PATTERN, "maxLength": 10}
        if "pattern" in schema:
            return {"type": "string", "pattern": schema["pattern"], "maxLength": max_length}
        return {"type": "string", "pattern": _text_pattern(max_length), "maxLength": max_length}
    raise ValueError(f"tool schema type {kind!r} is not supported by the planning grammar")


def planning_schema(tools: list[str] | tuple[str, ...]) -> Schema:
    """``oneOf`` the allowed tools' calls and the final ``answer`` action."""
    unknown = [name for name in tools if name not in TOOLS]
    if unknown:
        raise ValueError(f"unknown tool(s) {unknown}; known: {', '.join(TOOLS)}")
    alternatives: list[Schema] = [
        {
            "type": "object",
            "properties": {
                "action": {"const": name},
                "arguments": _for_grammar(TOOLS[name].parameters),
            },
            "required": ["action", "arguments"],
            "additionalProperties": False,
        }
        for name in tools
    ]
    alternatives.append(
        {
            "type": "object",
            "properties": {"action": {"const": ANSWER}},
            "required": ["action"],
            "additionalProperties": False,
        }
    )
    return {"oneOf": alternatives}


def validate_against_schema(value: Any, schema: Schema, where: str = "plan") -> None:
    """Validate ``value`` against the subset of JSON Schema ``planning_schema`` emits.

    Written out (rather than a dependency) because the subset is small and the messages
    go back to the model in a retry.
    """
    if "oneOf" in schema:
        errors: list[str] = []
        matches = 0
        for option in schema["oneOf"]:
            try:
                validate_against_schema(value, option, where)
                matches += 1
            except PlanningError as error:
                errors.append(str(error))
        if matches != 1:
            raise PlanningError(f"{where} matches {matches} of the allowed actions")
        return
    if "const" in schema:
        if value != schema["const"]:
            raise PlanningError(f"{where} must be {schema['const']!r}")
        return
    if "enum" in schema and value not in schema["enum"]:
        raise PlanningError(f"{where} must be one of {schema['enum']}")
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            raise PlanningError(f"{where} must be an object")
        properties: dict[str, Schema] = schema.get("properties", {})
        extra = sorted(set(value) - set(properties))
        if extra and schema.get("additionalProperties") is False:
            raise PlanningError(f"{where} has unknown keys {extra}")
        missing = [k for k in schema.get("required", []) if k not in value]
        if missing:
            raise PlanningError(f"{where} is missing {missing}")
        for key, item in value.items():
            validate_against_schema(item, properties[key], f"{where}.{key}")
    elif kind == "array":
        if not isinstance(value, list) or len(value) > schema.get("maxItems", 10**6):
            raise PlanningError(f"{where} must be a list of at most {schema.get('maxItems')}")
        for index, item in enumerate(value):
            validate_against_schema(item, schema["items"], f"{where}[{index}]")
    elif kind == "string":
        if not isinstance(value, str) or len(value) > schema.get("maxLength", 10**6):
            raise PlanningError(f"{where} must be a string of at most {schema.get('maxLength')}")
        if "pattern" in schema and not re.match(schema["pattern"], value):
            raise PlanningError(f"{where}={value!r} does not match {schema['pattern']}")
    elif kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        raise PlanningError(f"{where} must be an integer")
    elif kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise PlanningError(f"{where} must be a number")


def _numbers(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Number arguments the grammar wrote as decimal strings, as numbers again."""
    properties = TOOLS[tool].parameters.get("properties", {})
    converted = dict(arguments)
    for key, item in arguments.items():
        if properties.get(key, {}).get("type") == "number" and isinstance(item, str):
            converted[key] = float(item)
    return converted


def parse_plan(text: str, schema: Schema) -> ToolCall | None:
    """The tool call in the model's text, or ``None`` for the ``answer`` action.

    Raises :class:`PlanningError` for anything else: not JSON, not valid against the
    schema, or arguments the tool itself rejects.
    """
    try:
        value = json.loads(text)
    except ValueError as error:
        raise PlanningError(f"the plan is not JSON ({error})") from error
    validate_against_schema(value, schema)
    action = value["action"]
    if action == ANSWER:
        return None
    try:
        arguments = validate_arguments(action, _numbers(action, value["arguments"]))
    except ToolArgumentError as error:
        raise PlanningError(f"{action}: {error}") from error
    return {"tool": action, "arguments": arguments}
