"""OpenAI-compatible backend against a mocked server (respx)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from agent.models.base import (
    ChatModel,
    ContextOverflow,
    InvalidModelOutput,
    ModelError,
    ModelUnavailable,
)
from agent.models.json_output import portable_schema
from agent.models.openai_backend import GUIDANCE_OPTIONS, OpenAICompatibleModel
from agent.models.structured_forms import PROBE_SCHEMA, PROBE_WORD
from tests.support.models_helpers import TOOL_SCHEMA

BASE = "http://llm.test/v1"
URL = f"{BASE}/chat/completions"


def reply(content: str, usage: dict[str, int] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"choices": [{"message": {"role": "assistant", "content": content}}]}
    if usage is not None:
        body["usage"] = usage
    return httpx.Response(200, json=body)


def enforcing(answer: httpx.Response) -> Any:
    """A server that enforces ``response_format: json_schema``: the probe schema gets its
    one object, every other request ``answer`` (grammar fields are ignored)."""
    probe = {**portable_schema(PROBE_SCHEMA), "x-guidance": GUIDANCE_OPTIONS}

    def respond(request: httpx.Request) -> httpx.Response:
        form = json.loads(request.content).get("response_format") or {}
        if form.get("json_schema", {}).get("schema") == probe:
            return reply(json.dumps({"word": PROBE_WORD}))
        return answer

    return respond


def sse(*events: dict[str, Any] | str) -> httpx.Response:
    lines = [f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events]
    return httpx.Response(
        200, content="".join(lines).encode(), headers={"content-type": "text/event-stream"}
    )


def delta(text: str) -> dict[str, Any]:
    return {"choices": [{"delta": {"content": text}}]}


@respx.mock
async def test_request_shape_with_schema_and_separate_system() -> None:
    route = respx.post(URL).mock(
        side_effect=enforcing(
            reply('{"tool": "a", "n": 2}', {"prompt_tokens": 31, "completion_tokens": 9})
        )
    )
    model = OpenAICompatibleModel(BASE + "/", "qwen2.5", api_key="sk-secret")
    completion = await model.complete("Rules.", "Question?", json_schema=TOOL_SCHEMA, max_tokens=64)
    sent = json.loads(route.calls.last.request.content)
    assert sent["model"] == "qwen2.5"
    assert sent["messages"] == [
        {"role": "system", "content": "Rules."},
        {"role": "user", "content": "Question?"},
    ]
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "output",
            "schema": {**TOOL_SCHEMA, "x-guidance": GUIDANCE_OPTIONS},
            "strict": True,
        },
    }
    assert (sent["max_tokens"], sent["temperature"], sent["stream"]) == (64, 0.0, False)
    assert route.calls.last.request.headers["authorization"] == "Bearer sk-secret"
    assert completion.text == '{"tool": "a", "n": 2}'
    assert (completion.prompt_tokens, completion.completion_tokens) == (31, 9)


@respx.mock
async def test_gemma_models_get_the_system_text_folded_into_the_user_turn() -> None:
    route = respx.post(URL).mock(return_value=reply("ok"))
    await OpenAICompatibleModel(BASE, "unsloth/MedGemma-1.5-4b-it").complete("Rules.", "Q?")
    sent = json.loads(route.calls.last.request.content)
    assert sent["messages"] == [{"role": "user", "content": "Rules.\n\nQ?"}]
    assert "response_format" not in sent
    assert "authorization" not in route.calls.last.request.headers


@respx.mock
async def test_missing_usage_is_approximated_and_thinking_stripped() -> None:
    respx.post(URL).mock(return_value=reply("<unused94>hmm<unused95>Answer text."))
    completion = await OpenAICompatibleModel(BASE).complete("s" * 40, "u" * 40)
    assert completion.text == "Answer text."
    assert completion.prompt_tokens == 20
    assert completion.completion_tokens > 0


@respx.mock
async def test_streaming_parses_sse_until_done() -> None:
    route = respx.post(URL).mock(
        return_value=sse(
            delta("Hel"),
            delta("lo [Patient/1]"),
            {"choices": [{"delta": {}, "finish_reason": "stop"}]},
            {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 4}},
            "[DONE]",
            delta(" ignored after DONE"),
        )
    )
    pieces: list[str] = []
    completion = await OpenAICompatibleModel(BASE, "m").complete("s", "u", on_token=pieces.append)
    assert "".join(pieces) == completion.text == "Hello [Patient/1]"
    assert (completion.prompt_tokens, completion.completion_tokens) == (12, 4)
    sent = json.loads(route.calls.last.request.content)
    assert sent["stream"] is True


@respx.mock
async def test_streamed_json_is_checked_against_the_schema() -> None:
    respx.post(URL).mock(return_value=sse(delta('{"tool": '), delta('"zzz", "n": 1}'), "[DONE]"))
    with pytest.raises(InvalidModelOutput) as info:
        await OpenAICompatibleModel(BASE).complete(
            "s", "u", json_schema=TOOL_SCHEMA, on_token=lambda _: None
        )
    assert info.value.raw == '{"tool": "zzz", "n": 1}'


@pytest.mark.parametrize("content", ["not json at all", '{"tool": "a"}', '{"tool": "a", "n": 99}'])
@respx.mock
async def test_invalid_json_for_a_schema_keeps_the_raw_text(content: str) -> None:
    respx.post(URL).mock(side_effect=enforcing(reply(content)))
    with pytest.raises(InvalidModelOutput, match=r"(?i)retry once") as info:
        await OpenAICompatibleModel(BASE).complete("s", "u", json_schema=TOOL_SCHEMA)
    assert info.value.raw == content


@respx.mock
async def test_server_error_is_unavailable_naming_the_url() -> None:
    respx.post(URL).mock(return_value=httpx.Response(500, text="boom"))
    with pytest.raises(
        ModelUnavailable, match=r"http://llm\.test/v1/chat/completions answered HTTP 500"
    ):
        await OpenAICompatibleModel(BASE).complete("s", "u")


@respx.mock
async def test_server_error_while_streaming_is_unavailable() -> None:
    respx.post(URL).mock(return_value=httpx.Response(503, text="loading model"))
    with pytest.raises(ModelUnavailable, match="HTTP 503"):
        await OpenAICompatibleModel(BASE).complete("s", "u", on_token=lambda _: None)


@respx.mock
async def test_connection_refused_is_unavailable_and_never_leaks_the_key() -> None:
    respx.post(URL).mock(side_effect=httpx.ConnectError("Connection refused"))
    model = OpenAICompatibleModel(BASE, "m", api_key="sk-secret")
    with pytest.raises(ModelUnavailable, match=r"Cannot reach .*Start the server") as info:
        await model.complete("s", "u")
    assert "sk-secret" not in str(info.value)
    assert "sk-secret" not in repr(model)
    assert "sk-secret" not in model.name


@respx.mock
async def test_timeout_is_unavailable() -> None:
    respx.post(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(ModelUnavailable, match=r"did not answer within 5 s"):
        await OpenAICompatibleModel(BASE, timeout=5).complete("s", "u")


@respx.mock
async def test_client_errors_say_what_to_check() -> None:
    respx.post(URL).mock(return_value=httpx.Response(404, text="no such model"))
    with pytest.raises(ModelError, match="check the base URL") as info:
        await OpenAICompatibleModel(BASE).complete("s", "u")
    assert not isinstance(info.value, ModelUnavailable)


@respx.mock
async def test_server_context_errors_are_context_overflow() -> None:
    respx.post(URL).mock(
        return_value=httpx.Response(400, text="the request exceeds the available context size")
    )
    with pytest.raises(ContextOverflow):
        await OpenAICompatibleModel(BASE).complete("s", "u")


async def test_local_estimate_overflows_before_any_request() -> None:
    model = OpenAICompatibleModel(BASE, context_window=100)
    with pytest.raises(ContextOverflow, match="100-token context"):
        await model.complete("", "x" * 800, max_tokens=10)


def test_name_and_protocol() -> None:
    model = OpenAICompatibleModel("http://h:8080/v1/", "medgemma")
    assert model.name == "openai:http://h:8080/v1#medgemma"
    assert OpenAICompatibleModel("http://h/v1").name == "openai:http://h/v1"
    assert isinstance(model, ChatModel)
