"""The product against Ollama (built from the Go module proxy by ``bench/ollama_build.sh``),
serving the Gemma 3 270M GGUF through a Modelfile with Gemma's turn template.

What was seen with Ollama 0.17.4 on this machine: it ignores a top-level ``grammar`` and
vLLM's ``structured_outputs`` (the probes get prose), and enforces ``response_format:
json_schema`` by converting the schema with llama.cpp's converter.  Its grammar parser
knows no ``\\-`` escape in a character class: before the portable schema wrote that
hyphen plainly, the planning schema got HTTP 500 "failed to load model vocabulary required
for format", and the backend fell through to ``json_object``, which Ollama takes as plain
JSON mode (the schema ignored).  These tests pin both: the backend lands on
``json_schema`` and the server's output obeys a schema the base model would never follow
unprompted.

Opt-in (several minutes on 2 shared cores, and the build about 18): they run with
``EHR_AGENT_REQUIRE_OLLAMA=1`` (the cached build) or ``EHR_AGENT_OLLAMA=/path/to/ollama``;
otherwise they skip saying how to run them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.models.json_output import parse_json_output
from agent.models.openai_backend import OpenAICompatibleModel
from agent.planner.schema import planning_schema
from tests.support.models_helpers import assert_forms_enforced, gemma_270m_path
from tools import DEFAULT_TOOLS

pytestmark = pytest.mark.slow

VERSION = "0.17.4"
ALIAS = "gemma-3-270m"
CONTEXT = 8192
START_SECONDS = 120
"""``ollama serve`` answers in about a second; ``ollama create`` of the 270M GGUF in 3 s."""
REQUEST_SECONDS = 600
"""One plan of at most a few hundred tokens at the slowest rate seen (about 0.5 s a token
with three other jobs on the two cores), with slack."""
GEMMA_TEMPLATE = """{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if or (eq .Role "user") (eq .Role "system") }}<start_of_turn>user
{{ .Content }}<end_of_turn>
{{ if $last }}<start_of_turn>model
{{ end }}
{{- else if eq .Role "assistant" }}<start_of_turn>model
{{ .Content }}{{ if not $last }}<end_of_turn>
{{ end }}
{{- end }}
{{- end }}"""
"""Gemma's turns (a GGUF without a chat template gets ``{{ .Prompt }}`` from Ollama)."""


def cached_binary() -> Path:
    """Where ``bench/ollama_build.sh`` leaves the binary."""
    root = os.environ.get("EHR_AGENT_OLLAMA_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "ehr-agent"
    return base / f"ollama-{VERSION}" / "ollama"


def _binary() -> Path:
    named = os.environ.get("EHR_AGENT_OLLAMA")
    if named:
        return Path(named)
    cached = cached_binary()
    if os.environ.get("EHR_AGENT_REQUIRE_OLLAMA") != "1":
        pytest.skip(
            "opt-in (several minutes on a 2-core CPU): set EHR_AGENT_REQUIRE_OLLAMA=1 to use "
            f"{cached} (`bash bench/ollama_build.sh` builds it, about 18 min) or "
            "EHR_AGENT_OLLAMA=/path/to/ollama"
        )
    if not cached.exists():
        pytest.fail(f"no Ollama binary at {cached}: run `bash bench/ollama_build.sh` first")
    return cached


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_ollama(binary: Path, gguf: Path, home: Path) -> Iterator[str]:
    """``ollama serve`` on a free loopback port with ``gguf`` created as :data:`ALIAS`."""
    host = f"127.0.0.1:{_free_port()}"
    env = {**os.environ, "OLLAMA_HOST": host, "OLLAMA_MODELS": str(home / "models")}
    env["HOME"] = str(home)  # Ollama writes its key pair there
    log = (home / "serve.log").open("wb")
    process = subprocess.Popen(
        [str(binary), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://{host}/api/version", timeout=5).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ollama serve did not start; log {home / 'serve.log'}")
            time.sleep(0.5)
        modelfile = home / "Modelfile"
        modelfile.write_text(
            f'FROM {gguf}\nTEMPLATE """{GEMMA_TEMPLATE}"""\n'
            f'PARAMETER stop "<end_of_turn>"\nPARAMETER num_ctx {CONTEXT}\n'
        )
        subprocess.run(
            [str(binary), "create", ALIAS, "-f", str(modelfile)],
            env=env,
            capture_output=True,
            timeout=START_SECONDS,
            check=True,
        )
        yield f"http://{host}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    gguf = gemma_270m_path()
    with running_ollama(_binary(), gguf, tmp_path_factory.mktemp("ollama")) as url:
        yield url


async def test_the_probe_lands_on_json_schema_and_plans_are_valid(server: str) -> None:
    schema = planning_schema(list(DEFAULT_TOOLS))
    model = OpenAICompatibleModel(server, ALIAS, context_window=CONTEXT, timeout=REQUEST_SECONDS)
    completion = await model.complete(
        "Choose one action.", "What medications?", json_schema=schema, max_tokens=160
    )
    plan = parse_json_output(completion.text, schema, source=model.name)
    assert plan["action"] in {*DEFAULT_TOOLS, "answer"}
    # Both grammar probes were answered with prose; json_schema was accepted (not the
    # json_object fallback, which Ollama takes as schema-less JSON mode).
    assert model.structured_mode == "json_schema"


async def test_json_schema_is_enforced_not_advisory(server: str) -> None:
    model = OpenAICompatibleModel(server, ALIAS, context_window=CONTEXT, timeout=REQUEST_SECONDS)
    await assert_forms_enforced(model, ("json_schema",))
