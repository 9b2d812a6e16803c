"""Schema-constrained output on a real model server: llama-cpp-python's OpenAI server.

Run with the Gemma 3 270M GGUF and Gemma's chat format, it refuses
``response_format: json_schema`` and enforces a ``grammar``; the backend must find the
form it accepts once (a grammar, after a probe shows it is enforced) and get schema-valid
output from it.  Slow: the server is started once for the module.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from agent.models.base import ModelError
from agent.models.json_output import parse_json_output
from agent.models.openai_backend import OpenAICompatibleModel
from agent.models.structured_forms import (
    StructuredMode,
)
from tests.support.models_helpers import assert_forms_enforced, default_plan_schema
from tools import DEFAULT_TOOLS

SERVER_START_SECONDS = 180


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
    schema = default_plan_schema()
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
    schema = default_plan_schema()
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
    schema = default_plan_schema()
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
        await model.complete(
            "Choose one action.", "What medications?", json_schema=default_plan_schema()
        )
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
