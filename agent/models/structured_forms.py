"""The forms in which OpenAI-compatible servers take a JSON schema to constrain output.

Servers constrain output to a JSON schema in different ways: a GBNF ``grammar``
(llama.cpp's ``llama-server`` and llama-cpp-python's server, both documented to take
it on ``/v1/chat/completions``), the same grammar as vLLM's ``structured_outputs:
{grammar}`` (its xgrammar backend parses GBNF), OpenAI's ``response_format: json_schema`` (vLLM,
``llama-server``), ``response_format: json_object`` with a ``schema`` (llama-cpp-python's
server, which answers the previous one with HTTP 500), or Ollama's ``format``.  The backend
(:class:`~agent.models.openai_backend.OpenAICompatibleModel`) tries them in that order.

Why a grammar first: it is the one form whose whitespace we choose.  A server converts a
JSON schema with its own rules, and llama.cpp's allow up to two newlines and twenty
spaces or tabs between any two tokens, which a small model fills until the token budget
cuts the object off.  The grammar sent is the one the local llama.cpp backend uses
(:func:`~agent.models.grammar.gbnf_for_schema`: at most one space per slot), so its
longest output is known and ``max_tokens`` is raised to it, as locally.  Servers that do
not know the field ignore it (vLLM, Ollama) or refuse it (OpenAI), so a grammar is used
only after a probe shows the server enforces it (vLLM enforces it under
``structured_outputs``, where its default xgrammar conversion of a schema allows any
whitespace, which the 270M model fills until the budget ends): a grammar admitting a single word the
model would never write unprompted.  Likewise every schema form (``json_schema``,
``json_object`` + schema, ``format``) is used only after a probe schema admitting one
object is answered with exactly it (vLLM and Ollama take ``json_object`` as plain JSON
mode and ignore the schema; a server or proxy that does not know a field drops it, and
the model's prose would then pass for an enforced answer).  The schema forms carry
:func:`~agent.models.json_output.portable_schema`'s schema, and the output is always
checked against the full schema.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from agent.models.grammar import gbnf_for_schema, longest_output, narrow_schema
from agent.models.json_output import portable_schema

__all__ = [
    "GRAMMAR_MODES",
    "GUIDANCE_OPTIONS",
    "MODE_NAMES",
    "STRUCTURED_MODES",
    "StructuredMode",
    "grammar_fields",
    "is_refusal",
    "schema_probe_enforced",
    "structured_fields",
    "token_budget",
]

StructuredMode = Literal[
    "grammar", "structured_outputs_grammar", "json_schema", "json_object", "ollama_format"
]
STRUCTURED_MODES: tuple[StructuredMode, ...] = (
    "grammar",
    "structured_outputs_grammar",
    "json_schema",
    "json_object",
    "ollama_format",
)
"""The ways of asking for schema-constrained output, in the order they are tried."""

MODE_NAMES: dict[StructuredMode, str] = {
    "grammar": "a GBNF grammar",
    "structured_outputs_grammar": "vLLM's structured_outputs grammar",
    "json_schema": "response_format json_schema",
    "json_object": "response_format json_object + schema",
    "ollama_format": "Ollama's format",
}
PROBE_WORD = "zebra-17-grammar-probe"
"""What the probe grammar admits: no model writes it unprompted, so a server that answers
with exactly this enforced the grammar (one that ignores the field answers the prompt)."""
PROBE_PROMPT = "Reply with one word: hello."
PROBE_GRAMMAR = f"root ::= {json.dumps(PROBE_WORD)}"
PROBE_MAX_TOKENS = len(PROBE_WORD) + 1
"""Under the grammar every token is at least one character, plus the end-of-text token."""
PROBE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"word": {"enum": [PROBE_WORD]}},
    "required": ["word"],
    "additionalProperties": False,
}
"""The schema probe: it admits one object the model would never write unprompted, so a
server that answers with exactly that object enforced the schema (one that accepts the
form but ignores its schema, as JSON mode does, answers the prompt)."""
PROBE_SCHEMA_MAX_TOKENS = 128
"""Room for the probe object (about 15 tokens) plus the whitespace a server's conversion
lets the model pad between its tokens: ``llama-server``'s allows at most two newlines and
twenty spaces or tabs in each of the object's four slots (88 characters); llama-cpp-python's
allows one space."""
REFUSAL_WORDS = ("response_format", "json_schema", "schema", "grammar", "format", "support")
"""Words in an error body that mark it as a refusal of the structured-output form."""

GUIDANCE_OPTIONS: dict[str, Any] = {
    "whitespace_flexible": False,
    "key_separator": ": ",
    "item_separator": ", ",
}
"""llguidance's in-schema options (vLLM's ``guidance`` backend honours them over its own
default of flexible whitespace, which let greedy Gemma 270M write newlines until the token
budget ran out).  Other converters ignore the ``x-guidance`` key."""


GRAMMAR_MODES: tuple[StructuredMode, ...] = ("grammar", "structured_outputs_grammar")
"""The forms that send our GBNF grammar: used only after the probe grammar is enforced.
The others send a JSON schema, used only after :data:`PROBE_SCHEMA` is enforced."""


def schema_probe_enforced(text: str) -> bool:
    """True when ``text`` is exactly the one value :data:`PROBE_SCHEMA` admits (as JSON:
    whitespace between tokens is the server's conversion, not the model ignoring it)."""
    try:
        return bool(json.loads(text) == {"word": PROBE_WORD})
    except ValueError:
        return False


def grammar_fields(mode: StructuredMode, grammar: str) -> dict[str, Any]:
    """The request fields that carry a GBNF ``grammar`` in one of :data:`GRAMMAR_MODES`."""
    if mode == "structured_outputs_grammar":
        return {"structured_outputs": {"grammar": grammar}}
    return {"grammar": grammar}


def structured_fields(mode: StructuredMode, schema: dict[str, Any]) -> dict[str, Any]:
    """The request fields that ask a server for output matching ``schema`` in ``mode``.

    Raises ``ImportError`` for the grammar forms when llama-cpp-python (the converter) is
    absent.
    """
    if mode in GRAMMAR_MODES:
        return grammar_fields(mode, gbnf_for_schema(schema))
    portable = portable_schema(schema)
    if isinstance(portable, dict):
        portable = {**portable, "x-guidance": GUIDANCE_OPTIONS}
    if mode == "json_schema":
        return {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": portable, "strict": True},
            }
        }
    if mode == "json_object":
        return {"response_format": {"type": "json_object", "schema": portable}}
    return {"format": portable}


def token_budget(mode: StructuredMode, schema: dict[str, Any] | None, max_tokens: int) -> int:
    """``max_tokens``, raised under our grammar to the longest output it admits.

    Why: an object cut off by the budget is invalid whatever the model meant, and the
    grammar itself bounds the generation (the local backend does the same).  The server's
    own schema conversions admit unbounded whitespace, so no bound is claimed for them.
    """
    if mode not in GRAMMAR_MODES or schema is None:
        return max_tokens
    longest = longest_output(narrow_schema(schema))
    return max_tokens if longest is None else max(max_tokens, longest)


def is_refusal(status: int, text: str) -> bool:
    """True when an error answer is a refusal of the structured-output form itself."""
    lowered = text.lower()
    return status in (400, 415, 422, 500, 501) and any(w in lowered for w in REFUSAL_WORDS)
