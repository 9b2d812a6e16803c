"""The llama.cpp backend on real GGUF files (Gemma 3 270M, SmolLM2 135M).

The 270M model is a base model whose words are nonsense, so these tests
assert structure (one BOS, schema-valid JSON, streaming, counts, errors),
never wording. Loading it takes under a second; the module runs in ~15 s.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.models.base import ChatModel, ContextOverflow, ModelError, ModelUnavailable
from agent.models.grammar import gbnf_for_schema, grammar_for_schema, narrow_schema
from tests.support.models_helpers import TOOL_SCHEMA, gemma_270m_path, smollm2_gguf_path, validate

pytest.importorskip("llama_cpp")

from agent.models.llama_cpp_backend import LlamaCppModel


@pytest.fixture(scope="module")
def gemma() -> Iterator[LlamaCppModel]:
    yield LlamaCppModel(gemma_270m_path(), n_ctx=1024)


def test_gemma_metadata_selects_the_gemma_template(gemma: LlamaCppModel) -> None:
    assert gemma.metadata["general.architecture"] == "gemma3"
    assert gemma.chat_format == "gemma"
    assert gemma.name == "gguf:gemma-3-270m-q4_k_m.gguf"
    assert gemma.context_window == 1024
    assert isinstance(gemma, ChatModel)


def test_prompt_carries_exactly_one_bos(gemma: LlamaCppModel) -> None:
    tokens = gemma.prompt_tokens("System rules.", "A question?")
    bos = gemma._llm.token_bos()
    assert tokens[0] == bos
    assert tokens.count(bos) == 1
    # The turn markers are single special tokens, not spelled-out text.
    assert gemma.count_tokens("<start_of_turn>") == 1
    assert gemma.count_tokens("<end_of_turn>") == 1


async def test_smollm2_metadata_selects_chatml_and_stops_at_end_of_turn() -> None:
    model = LlamaCppModel(smollm2_gguf_path(), n_ctx=512)
    assert model.chat_format == "chatml"
    completion = await model.complete("You are brief.", "Say hello.", max_tokens=24)
    assert "<|im_end|>" not in completion.text
    assert "<|im_start|>" not in completion.text


async def test_generation_under_a_schema_always_parses_and_validates(
    gemma: LlamaCppModel,
) -> None:
    for i in range(5):
        completion = await gemma.complete(
            "Choose a tool and a number. Answer in JSON.",
            f"Request {i}: the patient's {['labs', 'meds', 'notes', 'vitals', 'allergies'][i]}",
            json_schema=TOOL_SCHEMA,
            max_tokens=32,
            temperature=0.8 if i % 2 else 0.0,
        )
        validate(json.loads(completion.text), TOOL_SCHEMA)
        assert completion.prompt_tokens > 0
        assert 0 < completion.completion_tokens <= 32
        assert completion.seconds > 0


async def test_streaming_pieces_join_to_the_text(gemma: LlamaCppModel) -> None:
    pieces: list[str] = []
    completion = await gemma.complete(
        "Be brief.", "Say something.", max_tokens=16, on_token=pieces.append
    )
    assert len(pieces) > 1
    assert "".join(pieces) == completion.text
    assert completion.completion_tokens > 0


async def test_streaming_under_a_schema_yields_valid_json(gemma: LlamaCppModel) -> None:
    pieces: list[str] = []
    completion = await gemma.complete(
        "Answer in JSON.",
        "Pick one.",
        json_schema=TOOL_SCHEMA,
        max_tokens=32,
        on_token=pieces.append,
    )
    assert "".join(pieces) == completion.text
    validate(json.loads(completion.text), TOOL_SCHEMA)


async def test_prompt_longer_than_the_context_overflows(gemma: LlamaCppModel) -> None:
    with pytest.raises(ContextOverflow, match=r"1024-token context.*larger n_ctx"):
        await gemma.complete("", "word " * 1100, max_tokens=8)
    # A prompt that fits alone but not with max_tokens also overflows.
    with pytest.raises(ContextOverflow):
        await gemma.complete("", "word " * 900, max_tokens=200)


async def test_timeout_stops_generation_with_an_actionable_error(gemma: LlamaCppModel) -> None:
    gemma.timeout_seconds = 1e-6
    try:
        with pytest.raises(ModelError, match=r"timed out after 1e-06 s\. Ask for fewer tokens"):
            await gemma.complete("", "Tell a long story.", max_tokens=200)
    finally:
        gemma.timeout_seconds = None


def test_missing_file_is_unavailable_with_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ModelUnavailable, match="No model file at") as info:
        LlamaCppModel(missing)
    assert str(missing) in str(info.value)
    assert "ehr-agent model pull" in str(info.value)


def test_corrupt_file_is_unavailable(tmp_path: Path) -> None:
    corrupt = tmp_path / "broken.gguf"
    corrupt.write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(ModelUnavailable, match=r"Could not load .*broken\.gguf as a GGUF"):
        LlamaCppModel(corrupt)


def test_small_integer_ranges_become_enums_and_strings_exclude_control_chars() -> None:
    narrowed = narrow_schema(TOOL_SCHEMA)
    assert narrowed["properties"]["n"] == {"enum": list(range(10))}
    wide = {"type": "integer", "minimum": 0, "maximum": 1000}
    assert narrow_schema(wide) == wide
    gbnf = gbnf_for_schema({"type": "string", "maxLength": 3})
    assert r'char ::= [^"\\\x7F\x00-\x1F]' in gbnf


def test_grammars_are_cached_per_schema() -> None:
    reordered = dict(reversed(list(TOOL_SCHEMA.items())))
    assert grammar_for_schema(TOOL_SCHEMA) is grammar_for_schema(reordered)
