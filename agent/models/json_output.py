"""Parse and check a model's JSON output against the schema we asked for.

Why our own checker: grammars and server JSON modes are not airtight. The
GBNF converter in llama-cpp-python ignores ``minimum``/``maximum`` and lets
raw control characters into strings; servers may ignore ``strict``. The graph
must never act on a tool call that merely looks right, so every schema call is
checked here. It covers the keywords our schemas use (type, enum, const,
properties, required, additionalProperties, items, min/max, min/maxLength,
min/maxItems, pattern, anyOf); an unknown keyword is ignored, not guessed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agent.models.base import InvalidModelOutput

__all__ = ["parse_json_output", "portable_schema", "schema_errors"]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
    "number": (int, float),
    "integer": (int,),
}


def parse_json_output(text: str, schema: dict[str, Any], *, source: str) -> Any:
    """Return the parsed value, or raise :class:`InvalidModelOutput` keeping ``text``.

    ``json.loads`` is strict: a raw control character inside a string is an
    error, as JSON requires.
    """
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidModelOutput(
            f"{source} returned text that is not valid JSON ({exc}); retry once, then "
            "fall back. If it was cut off, raise max_tokens or bound the schema "
            f"(maxLength, maxItems). Output starts: {text[:200]!r}",
            raw=text,
        ) from exc
    errors = schema_errors(value, schema)
    if errors:
        raise InvalidModelOutput(
            f"{source} returned JSON that does not match the requested schema: "
            f"{'; '.join(errors[:5])}. Retry once, then fall back.",
            raw=text,
        )
    return value


def schema_errors(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Every violation found, as ``"<json path>: <what is wrong>"`` strings."""
    errors: list[str] = []
    alternatives = schema.get("anyOf")
    if alternatives and all(schema_errors(value, option, path) for option in alternatives):
        errors.append(f"{path}: matches none of the anyOf alternatives")
    if "enum" in schema and not any(_same(value, option) for option in schema["enum"]):
        errors.append(f"{path}: {value!r} is not one of {schema['enum']!r}")
    if "const" in schema and not _same(value, schema["const"]):
        errors.append(f"{path}: {value!r} is not {schema['const']!r}")
    expected = schema.get("type")
    if expected is not None:
        names = expected if isinstance(expected, list) else [expected]
        if not any(_is_type(value, name) for name in names):
            errors.append(f"{path}: expected {expected}, got {type(value).__name__}")
            return errors
    if isinstance(value, dict):
        errors += _object_errors(value, schema, path)
    elif isinstance(value, list):
        errors += _array_errors(value, schema, path)
    elif isinstance(value, str):
        errors += _string_errors(value, schema, path)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: {value} is below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: {value} is above the maximum {schema['maximum']}")
    return errors


def _object_errors(value: dict[str, Any], schema: dict[str, Any], path: str) -> list[str]:
    errors = [
        f"{path}: missing required {key!r}"
        for key in schema.get("required", ())
        if key not in value
    ]
    properties: dict[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in properties:
            errors += schema_errors(item, properties[key], f"{path}.{key}")
        elif extra is False:
            errors.append(f"{path}: unexpected property {key!r}")
        elif isinstance(extra, dict):
            errors += schema_errors(item, extra, f"{path}.{key}")
    return errors


def _array_errors(value: list[Any], schema: dict[str, Any], path: str) -> list[str]:
    errors: list[str] = []
    if "minItems" in schema and len(value) < schema["minItems"]:
        errors.append(f"{path}: fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(f"{path}: more than {schema['maxItems']} items")
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            errors += schema_errors(item, items, f"{path}[{index}]")
    return errors


def _string_errors(value: str, schema: dict[str, Any], path: str) -> list[str]:
    errors: list[str] = []
    if "minLength" in schema and len(value) < schema["minLength"]:
        errors.append(f"{path}: shorter than {schema['minLength']} characters")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(f"{path}: longer than {schema['maxLength']} characters")
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        errors.append(f"{path}: does not match pattern {schema['pattern']!r}")
    return errors


def _is_type(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(name, (object,)))


def _same(left: Any, right: Any) -> bool:
    """JSON equality: ``1 == True`` in Python but not in JSON."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    return bool(left == right)


_UNBOUNDED = re.compile(r"[+*]|\{\d+,\}")
_CHAR_CLASS = re.compile(r"\[(?:\\.|[^\]\\])*\]")
_ESCAPED_HYPHEN = "\\-"
_CLASS_ITEM = re.compile(r"\\.|[^\\]")


def _plain_hyphens(pattern: str) -> str:
    """``pattern`` with each ``\\-`` in a character class written as a trailing ``-``.

    Why: the same class, but the GBNF parser in Ollama's llama.cpp (v0.17.4) knows no
    ``\\-`` escape: a schema with ``[A-Za-z0-9.\\-]`` failed there with "unknown escape",
    which Ollama reports as HTTP 500 "failed to load model vocabulary required for format".
    A hyphen last in a class is literal in every regex and grammar dialect.
    """

    def rewrite(match: re.Match[str]) -> str:
        items = _CLASS_ITEM.findall(match.group(0)[1:-1])  # an escape is one item
        if _ESCAPED_HYPHEN not in items:
            return match.group(0)
        return "[" + "".join(item for item in items if item != _ESCAPED_HYPHEN) + "-]"

    return _CHAR_CLASS.sub(rewrite, pattern)


def portable_schema(schema: Any) -> Any:
    """``schema`` as every grammar converter we know accepts it.

    xgrammar (vLLM) refuses, or in newer versions ignores, a string with both
    ``pattern`` and ``minLength``/``maxLength``; llama.cpp's converter takes both.  Where
    the pattern bounds the length itself, the length keywords go; where it does not, the
    pattern goes and the length stays, so generation is bounded either way.  An escaped
    hyphen in a class is written plainly (:func:`_plain_hyphens`).  Nothing is lost:
    :func:`parse_json_output` still checks the full schema.
    """
    if isinstance(schema, list):
        return [portable_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    copied = {key: portable_schema(value) for key, value in schema.items()}
    lengths = {"minLength", "maxLength"} & copied.keys()
    pattern = copied.get("pattern")
    if isinstance(pattern, str):
        pattern = copied["pattern"] = _plain_hyphens(pattern)
    if isinstance(pattern, str) and lengths:
        if _UNBOUNDED.search(_CHAR_CLASS.sub("", pattern)):
            del copied["pattern"]
        else:
            for key in lengths:
                del copied[key]
    return copied
