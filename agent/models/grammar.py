"""JSON-schema grammars for llama.cpp, tightened and cached.

Why not ``LlamaGrammar.from_json_schema`` as is: its converter (0.3.x)
ignores ``minimum``/``maximum`` (an integer 0..9 may come out as 12 or -3)
and its string rule admits raw control characters, which make the JSON
invalid. We narrow small integer ranges to an ``enum`` and exclude control
characters from strings before compiling; :mod:`agent.models.json_output`
still checks every result. Compiled grammars are cached per schema because
the conversion is pure Python and the graph reuses a handful of schemas.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

__all__ = [
    "MAX_ENUM_RANGE",
    "gbnf_for_schema",
    "grammar_for_schema",
    "longest_output",
    "narrow_schema",
]

MAX_ENUM_RANGE = 64
"""Integer ranges up to this many values become an enum; wider ones are post-checked."""

# The converter's JSON string character rule, and the same rule without control characters
# (what llama.cpp's own C++ converter emits).
_LOOSE_CHAR = re.compile(r'^char ::= \[\^"\\\\\]', re.MULTILINE)
_STRICT_CHAR = r'char ::= [^"\\\\\\x7F\\x00-\\x1F]'

_cache: dict[str, Any] = {}
_cache_lock = threading.Lock()


def narrow_schema(schema: Any) -> Any:
    """Copy of ``schema`` with small bounded integer ranges turned into enums."""
    if isinstance(schema, list):
        return [narrow_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    narrowed = {key: narrow_schema(value) for key, value in schema.items()}
    low, high = schema.get("minimum"), schema.get("maximum")
    if (
        schema.get("type") == "integer"
        and "enum" not in schema
        and isinstance(low, int)
        and isinstance(high, int)
        and 0 <= high - low < MAX_ENUM_RANGE
    ):
        narrowed = {"enum": list(range(low, high + 1))}
    return narrowed


def gbnf_for_schema(schema: dict[str, Any]) -> str:
    """The GBNF text llama.cpp will enforce for ``schema``."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    gbnf: str = json_schema_to_gbnf(json.dumps(narrow_schema(schema)))
    return _LOOSE_CHAR.sub(_STRICT_CHAR, gbnf)


def grammar_for_schema(schema: dict[str, Any]) -> Any:
    """A compiled ``LlamaGrammar`` for ``schema``, cached by its canonical JSON.

    ``verbose=False`` keeps llama-cpp-python from printing the grammar to stderr.
    """
    key = json.dumps(schema, sort_keys=True)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    from llama_cpp.llama_grammar import LlamaGrammar

    grammar = LlamaGrammar.from_string(gbnf_for_schema(schema), verbose=False)
    with _cache_lock:
        _cache.setdefault(key, grammar)
    return grammar


_SPACE = 1
"""The converter's ``space ::= " "?``: at most one character per slot."""
_NUMBER_CHARS = 1 + 16 + 1 + 16 + 2 + 16
"""The converter's number rule: sign, 16 integral digits, point, 16 decimals, exponent."""


def longest_output(schema: Any) -> int | None:
    """The most characters the grammar for ``schema`` lets a model write, or ``None``.

    Why: under a grammar every character of the output is at least one token, so a
    ``max_tokens`` at least this large can never cut a valid object off (an output cut
    off is invalid whatever the model meant).  ``None`` when some part is unbounded (a
    string without ``maxLength``, an array without ``maxItems``) or not understood: then
    no bound is claimed.  Strings are counted as their characters plus quotes, which
    holds for the printable, quote-free classes our schemas use.
    """
    if not isinstance(schema, dict):
        return None
    for keyword in ("oneOf", "anyOf"):
        if keyword in schema:
            options = [longest_output(option) for option in schema[keyword]]
            return None if None in options else max(o for o in options if o is not None)
    if "const" in schema:
        return len(json.dumps(schema["const"])) + _SPACE
    if "enum" in schema:
        return max(len(json.dumps(value)) for value in schema["enum"]) + _SPACE
    kind = schema.get("type")
    if kind == "object":
        total = 2 + 2 * _SPACE  # braces
        for key, item in (schema.get("properties") or {}).items():
            value = longest_output(item)
            if value is None:
                return None
            total += len(json.dumps(key)) + 2 * _SPACE + 1 + value + 1 + _SPACE  # "k": v,
        return total
    if kind == "array":
        items, count = longest_output(schema.get("items")), schema.get("maxItems")
        if items is None or not isinstance(count, int):
            return None
        return 2 + 2 * _SPACE + count * (items + 1 + _SPACE)
    if kind == "string":
        length = schema.get("maxLength")
        return None if not isinstance(length, int) else length + 2 + _SPACE
    if kind in ("number", "integer"):
        return _NUMBER_CHARS + _SPACE
    if kind == "boolean":
        return len("false") + _SPACE
    if kind == "null":
        return len("null") + _SPACE
    return None
