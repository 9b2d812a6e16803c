"""ScriptedModel: the stand-in the graph tests drive."""

from __future__ import annotations

from typing import Any

import pytest

from agent.models import ChatModel, ContextOverflow, InvalidModelOutput, ModelError, ScriptedModel
from agent.models.scripted import ScriptedCall


async def test_replays_outputs_in_order_and_records_calls() -> None:
    model = ScriptedModel(["first", "second"])
    one = await model.complete("sys", "q1", max_tokens=10)
    two = await model.complete("sys", "q2", json_schema=None)
    assert (one.text, two.text) == ("first", "second")
    assert model.calls == [
        ScriptedCall("sys", "q1", None, 10),
        ScriptedCall("sys", "q2", None, 512),
    ]
    assert model.remaining == 0


async def test_callable_output_gets_system_user_and_schema() -> None:
    seen: list[tuple[str, str, dict[str, Any] | None]] = []

    def reply(system: str, user: str, schema: dict[str, Any] | None) -> str:
        seen.append((system, user, schema))
        return '{"tool": "a"}'

    model = ScriptedModel([reply])
    schema = {"type": "object"}
    completion = await model.complete("s", "u", json_schema=schema)
    assert completion.text == '{"tool": "a"}'
    assert seen == [("s", "u", schema)]


async def test_running_out_of_outputs_is_a_clear_error() -> None:
    model = ScriptedModel(["only"])
    await model.complete("s", "u")
    with pytest.raises(ModelError, match=r"ran out of outputs: call 2 but only 1 scripted"):
        await model.complete("s", "the second question")
    assert len(model.calls) == 2


async def test_streams_small_pieces_that_join_to_the_text() -> None:
    text = "A fairly long answer citing [Condition/abc-123] and more."
    pieces: list[str] = []
    completion = await ScriptedModel([text]).complete("s", "u", on_token=pieces.append)
    assert len(pieces) > 1
    assert all(0 < len(p) <= 4 for p in pieces)
    assert "".join(pieces) == completion.text == text


async def test_thinking_is_stripped_from_text_and_stream() -> None:
    pieces: list[str] = []
    completion = await ScriptedModel(["<unused94>hmm<unused95>Answer."]).complete(
        "s", "u", on_token=pieces.append
    )
    assert completion.text == "Answer." == "".join(pieces)


async def test_token_counts_are_len_over_four() -> None:
    model = ScriptedModel(["x" * 40])
    completion = await model.complete("s" * 8, "u" * 12)
    assert (completion.prompt_tokens, completion.completion_tokens) == (5, 10)
    assert model.count_tokens("abcdefgh") == 2
    assert model.count_tokens("") == 0


async def test_non_json_for_a_schema_call_is_invalid_output() -> None:
    with pytest.raises(InvalidModelOutput) as info:
        await ScriptedModel(["not json"]).complete("s", "u", json_schema={"type": "object"})
    assert info.value.raw == "not json"


async def test_context_overflow_uses_the_approximate_count() -> None:
    model = ScriptedModel(["x"], context_window=100)
    with pytest.raises(ContextOverflow, match="100-token context"):
        await model.complete("", "u" * 400, max_tokens=1)


def test_satisfies_the_chat_model_protocol() -> None:
    model = ScriptedModel([], name="scripted:test", context_window=4096)
    assert isinstance(model, ChatModel)
    assert (model.name, model.context_window) == ("scripted:test", 4096)
