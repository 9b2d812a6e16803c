"""Schema-constrained output: the planning schema on real converters, and the form sent.

The planning schema must be one that llama.cpp's converter (llama_cpp.llama_grammar, as
llama-cpp-python's server and ``llama-server`` use) and xgrammar (vLLM) both accept as
is, with every string bounded.  How a server's form is found is in
``test_models_structured_probe.py``; a real llama-cpp-python server in
``test_models_structured_llama_server.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from agent.models.grammar import gbnf_for_schema, longest_output, narrow_schema
from agent.models.json_output import portable_schema
from agent.models.openai_backend import OpenAICompatibleModel, structured_fields
from tests.support.models_helpers import default_plan_schema


def test_portable_planning_schema_is_accepted_by_xgrammar_without_warnings(
    capfd: pytest.CaptureFixture[str],
) -> None:
    xgrammar = pytest.importorskip("xgrammar")
    xgrammar.Grammar.from_json_schema(json.dumps(portable_schema(default_plan_schema())))
    assert "not supported" not in capfd.readouterr().err
    xgrammar.Grammar.from_json_schema(json.dumps(default_plan_schema()))  # the raw one: it warns
    assert "pattern combined with minLength/maxLength" in capfd.readouterr().err


def test_portable_planning_schema_is_accepted_by_llama_cpp_converter() -> None:
    llama_grammar = pytest.importorskip("llama_cpp.llama_grammar")
    gbnf = llama_grammar.json_schema_to_gbnf(json.dumps(portable_schema(default_plan_schema())))
    assert "root ::=" in gbnf
    assert llama_grammar.LlamaGrammar.from_string(gbnf, verbose=False) is not None


def test_portable_schema_writes_escaped_hyphens_plainly() -> None:
    """Ollama 0.17.4's GBNF parser refused the planning schema's ``[A-Za-z0-9.\\-]`` with
    "unknown escape" (HTTP 500); the portable class must match exactly the same strings."""
    raw = r"^[A-Za-z0-9.\-]{1,20}$"
    schema = {"type": "string", "pattern": raw, "maxLength": 20}
    portable = portable_schema(schema)["pattern"]
    assert portable == "^[A-Za-z0-9.-]{1,20}$"
    for text in ("E11.9", "4548-4", "-", "a b", "x_y", "", "A" * 21, "\\"):
        assert bool(re.match(raw, text)) == bool(re.match(portable, text)), text
    escaped_backslash = r"^[\\-]$"  # a backslash and a hyphen: nothing to rewrite
    assert portable_schema({"pattern": escaped_backslash})["pattern"] == escaped_backslash
    assert "\\-" not in json.dumps(portable_schema(default_plan_schema()))


def test_portable_schema_keeps_every_string_bounded() -> None:
    def strings(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            if node.get("type") == "string":
                yield node
            for value in node.values():
                yield from strings(value)
        elif isinstance(node, list):
            for value in node:
                yield from strings(value)

    found = list(strings(portable_schema(default_plan_schema())))
    assert found
    for node in found:
        assert not ({"pattern"} <= node.keys() and {"maxLength", "minLength"} & node.keys())
        assert "enum" in node or "const" in node or "pattern" in node or "maxLength" in node
    unbounded = portable_schema({"type": "string", "pattern": "^[a-z]+$", "maxLength": 9})
    assert unbounded == {"type": "string", "maxLength": 9}


def test_grammar_mode_sends_the_local_backends_grammar_and_budget() -> None:
    pytest.importorskip("llama_cpp")
    schema = default_plan_schema()
    fields = structured_fields("grammar", schema)
    assert fields == {"grammar": gbnf_for_schema(schema)}
    # No free whitespace: one optional space per slot, never newlines or tabs.
    assert 'space ::= " "?' in fields["grammar"] and "\\n" not in fields["grammar"]
    model = OpenAICompatibleModel("http://unused.invalid/v1", "m")
    body = model.request_body(
        "", "q", json_schema=schema, max_tokens=16, temperature=0.0, stream=False, mode="grammar"
    )
    longest = longest_output(narrow_schema(schema))
    assert longest is not None and body["max_tokens"] == longest > 16
