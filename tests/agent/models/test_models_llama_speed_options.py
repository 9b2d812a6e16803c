"""The llama.cpp speed options keep the output path exact, on the real Gemma 3 270M.

The prefix cache restores saved KV cells instead of re-evaluating the
instructions, and prompt lookup drafts tokens from the prompt; neither may
change what greedy decoding produces. Each case compares against a model
with both off, on the same prompts in an order that forces restores
(two instruction texts interleaved). Speed is measured by
``bench/model_speed.py``, never here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from agent.models.base import ModelError
from tests.support.models_helpers import TOOL_SCHEMA, gemma_270m_path, validate

pytest.importorskip("llama_cpp")

from agent.models.llama_cpp_backend import ENV_PROMPT_LOOKUP, LlamaCppModel

PLAN = "You choose the next tool. Reply with one JSON object naming the tool and a number."
ANSWER = "You answer using only the evidence lines given, citing each line like [1]."
EVIDENCE = "Evidence:\n[1] 2024-03-02 HbA1c 7.2 %\n[2] 2023-11-20 HbA1c 6.9 %\n"

CALLS: list[tuple[str, str]] = [
    (ANSWER, EVIDENCE + "Question: latest HbA1c?\nAnswer with citations:"),
    (PLAN, "Tools:\n- a: labs\n- b: vitals\nQuestion: latest HbA1c?\nNext action as JSON:"),
    (ANSWER, EVIDENCE + "Question: first HbA1c?\nAnswer with citations:"),
    (PLAN, "Tools:\n- a: labs\n- b: vitals\nQuestion: weight trend?\nNext action as JSON:"),
    (ANSWER, EVIDENCE + "Question: HbA1c in 2023?\nAnswer with citations:"),
]


def _model(**options: object) -> LlamaCppModel:
    return LlamaCppModel(gemma_270m_path(), n_ctx=512, n_threads=1, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def plain() -> Iterator[LlamaCppModel]:
    yield _model(prefix_cache=False, prompt_lookup_tokens=0)


async def _texts(model: LlamaCppModel) -> list[str]:
    return [(await model.complete(s, u, max_tokens=12)).text for s, u in CALLS]


@pytest.mark.slow
async def test_prefix_cache_restores_instead_of_reevaluating_and_changes_nothing(
    plain: LlamaCppModel,
) -> None:
    cached = _model(prefix_cache=True)
    assert cached.prefix_cache is not None
    assert await _texts(cached) == await _texts(plain)
    stats = cached.prefix_cache.stats
    # Two instruction texts interleaved: every call after the first two finds its
    # prefix evicted from the live context by the other text, and restores it.
    assert stats.restores >= 2
    assert stats.reused_tokens > 0
    # The prefix kept for each text grows past the instructions to what its prompts share.
    _, fixed = cached._prompt(ANSWER, CALLS[0][1])
    saved = [len(slot.saved.tokens) for slot in cached.prefix_cache._slots.values() if slot.saved]
    assert max(saved) > fixed


@pytest.mark.slow
async def test_schema_output_is_the_same_with_the_prefix_cache(plain: LlamaCppModel) -> None:
    cached = _model(prefix_cache=True)
    for model in (cached, plain):
        for system, user in CALLS[1::2]:
            completion = await model.complete(system, user, json_schema=TOOL_SCHEMA, max_tokens=40)
            validate(json.loads(completion.text), TOOL_SCHEMA)
    first = await cached.complete(PLAN, CALLS[1][1], json_schema=TOOL_SCHEMA, max_tokens=40)
    again = await plain.complete(PLAN, CALLS[1][1], json_schema=TOOL_SCHEMA, max_tokens=40)
    assert first.text == again.text


@pytest.mark.slow
async def test_prompt_lookup_decoding_gives_the_greedy_output(plain: LlamaCppModel) -> None:
    lookup = _model(prefix_cache=False, prompt_lookup_tokens=4)
    assert lookup.prompt_lookup_tokens == 4
    # Drafts are evaluated past the last accepted token: the usable window keeps room.
    assert lookup.context_window == plain.context_window - 10
    assert await _texts(lookup) == await _texts(plain)


def test_bad_speed_settings_are_refused_with_what_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_PROMPT_LOOKUP, "many")
    with pytest.raises(ModelError, match="EHR_AGENT_LLAMA_PROMPT_LOOKUP='many' is not a number"):
        _model()
    monkeypatch.delenv(ENV_PROMPT_LOOKUP)
    with pytest.raises(ModelError, match="out of range"):
        _model(prompt_lookup_tokens=10_000)
