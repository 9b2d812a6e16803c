"""JSON Schemas for the tools' arguments, and a small validator for exactly that subset.

The agent turns these into a grammar for constrained decoding; an unbounded string or
array there lets a small model generate forever, so every string has ``maxLength`` (and an
``enum`` or ``pattern`` where the values are known), every array ``maxItems``, every integer
bounds, and no object accepts unknown keys.  ``validate_arguments`` enforces the same rules
at call time, since the arguments may come from a model without constrained decoding.
"""

from __future__ import annotations

import re
from typing import Any

from tools.matching import DATE_PATTERN
from tools.vocabulary import vital_sign_names

__all__ = ["TOOL_SCHEMAS", "ToolArgumentError", "validate_arguments"]

Schema = dict[str, Any]

_DATE: Schema = {
    "type": "string",
    "pattern": DATE_PATTERN,
    "maxLength": 10,
    "description": "YYYY, YYYY-MM or YYYY-MM-DD",
}
_NAME: Schema = {"type": "string", "minLength": 1, "maxLength": 60}
# Full drug names run long ("insulin isophane, human 70 UNT/ML / ... [Humulin]").
_DRUG: Schema = {"type": "string", "minLength": 1, "maxLength": 120}


def _enum(*values: str, description: str = "") -> Schema:
    schema: Schema = {"type": "string", "enum": list(values), "maxLength": max(map(len, values))}
    if description:
        schema["description"] = description
    return schema


_MODE = _enum(
    "latest",
    "first",
    "series",
    "highest",
    "lowest",
    description="latest (default), first, series of the most recent `limit`, highest, lowest",
)
_BOUND: Schema = {"type": "number", "minimum": -1e6, "maximum": 1e9}


def _limit(default: int, maximum: int) -> Schema:
    return {"type": "integer", "minimum": 1, "maximum": maximum, "default": default}


def _object(properties: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


def _window(**extra: Schema) -> dict[str, Schema]:
    return {**extra, "since": _DATE, "until": _DATE}


TOOL_SCHEMAS: dict[str, Schema] = {
    "patient_overview": _object({}),
    "conditions": _object(
        _window(
            status=_enum("active", "resolved", "all"),
            name=_NAME,
            code={"type": "string", "pattern": r"^[A-Za-z0-9.\-]{1,20}$", "maxLength": 20},
            limit=_limit(50, 200),
        )
    ),
    "medications": _object(
        _window(
            status=_enum("active", "stopped", "all"),
            name=_DRUG,
            mode=_enum("list", "first", description="list (default) or first order"),
            limit=_limit(30, 200),
        )
    ),
    "allergies": _object(_window(status=_enum("active", "all"))),
    "immunizations": _object(_window(vaccine=_NAME, limit=_limit(20, 200))),
    "lab_results": _object(
        _window(name=_NAME, mode=_MODE, limit=_limit(10, 50), above=_BOUND, below=_BOUND),
        required=("name",),
    ),
    "vital_signs": _object(
        _window(
            name=_enum(*vital_sign_names()),
            mode=_MODE,
            limit=_limit(10, 50),
            above=_BOUND,
            below=_BOUND,
        ),
        required=("name",),
    ),
    "encounters": _object(_window(encounter_type=_NAME, limit=_limit(10, 200))),
    "procedures": _object(_window(name=_NAME, limit=_limit(10, 200))),
    "clinical_notes": _object(
        _window(
            keywords={
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 40},
                "maxItems": 5,
            },
            limit=_limit(5, 20),
        )
    ),
    "care_plans": _object(_window(status=_enum("active", "all"), limit=_limit(20, 100))),
    "goals": _object(_window(status=_enum("active", "all"), limit=_limit(20, 100))),
    "billing": _object(_window(limit=_limit(10, 50))),
    "search_record": _object(
        _window(name={"type": "string", "minLength": 1, "maxLength": 120}, limit=_limit(20, 50)),
        required=("name",),
    ),
    "visit": _object(
        _window(
            which=_enum("last", "first", description="last (default) or first visit"),
            encounter_type=_NAME,
            limit=_limit(60, 200),
        )
    ),
    "find_concept": _object(_window(name=_NAME, limit=_limit(30, 200)), required=("name",)),
}


class ToolArgumentError(ValueError):
    """A tool was called with arguments its schema does not allow (message says which)."""


def _check(value: Any, schema: Schema, where: str) -> None:
    kind = schema.get("type")
    if kind == "string":
        if not isinstance(value, str):
            raise ToolArgumentError(f"{where} must be a string")
        if len(value) > schema.get("maxLength", 10_000):
            raise ToolArgumentError(f"{where} is longer than {schema['maxLength']} characters")
        if len(value) < schema.get("minLength", 0):
            raise ToolArgumentError(f"{where} must not be empty")
        if "enum" in schema and value not in schema["enum"]:
            raise ToolArgumentError(f"{where} must be one of {', '.join(schema['enum'])}")
        if "pattern" in schema and not re.match(schema["pattern"], value):
            hint = schema.get("description", f"the pattern {schema['pattern']}")
            raise ToolArgumentError(f"{where}={value!r} does not match {hint}")
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ToolArgumentError(f"{where} must be an integer")
        low, high = schema.get("minimum"), schema.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ToolArgumentError(f"{where} must be between {low} and {high}")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ToolArgumentError(f"{where} must be a number")
        low, high = schema.get("minimum"), schema.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ToolArgumentError(f"{where} must be between {low} and {high}")
    elif kind == "array":
        if not isinstance(value, list):
            raise ToolArgumentError(f"{where} must be a list")
        if len(value) > schema.get("maxItems", 10_000):
            raise ToolArgumentError(f"{where} has more than {schema['maxItems']} items")
        for index, item in enumerate(value):
            _check(item, schema["items"], f"{where}[{index}]")
    elif kind == "object":
        if not isinstance(value, dict):
            raise ToolArgumentError(f"{where} must be an object")
        properties: dict[str, Schema] = schema["properties"]
        unknown = sorted(set(value) - set(properties))
        if unknown:
            allowed = ", ".join(properties) or "none"
            raise ToolArgumentError(f"unknown argument(s) {unknown}; allowed: {allowed}")
        missing = [k for k in schema.get("required", []) if k not in value]
        if missing:
            raise ToolArgumentError(f"missing required argument(s) {missing}")
        for key, item in value.items():
            if item is not None:
                _check(item, properties[key], key)


def validate_arguments(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Check ``arguments`` against the tool's schema; return them without ``None`` values."""
    if tool not in TOOL_SCHEMAS:
        raise ToolArgumentError(f"unknown tool {tool!r}; known: {', '.join(TOOL_SCHEMAS)}")
    _check(arguments, TOOL_SCHEMAS[tool], "arguments")
    return {k: v for k, v in arguments.items() if v is not None}
