"""Model faults: a clear message, and the extractive answer wherever the graph can go on.

Issue 7: a missing or corrupt model file, a context overflow, a generation timeout and an
OpenAI-compatible endpoint that is down must each give a message a user can act on; once
the graph is running, the question is still answered from the evidence (the extractive
fallback) and the output says so.  The FHIR side is the real embedded store throughout.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent import AgentOutput
from agent.cli import app
from agent.extractive import FALLBACK_NOTE
from agent.models.base import ChatModel, ContextOverflow, ModelError, ModelUnavailable
from agent.models.scripted import ScriptedModel
from agent.models.spec import load_model
from fhir_client import FhirClient
from fhir_client.embedded import embedded_client
from tests.support.agent_ask import ask_agent
from tests.support.injection_cases import World, build_world

SINGLE_FACT = "What procedures has she had?"  # rules retrieve, the model answers
OPEN_QUESTION = "Explain how her diabetes is controlled."  # the model plans first


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    built = build_world()
    yield built
    built.store.close()


@pytest.fixture
async def client(world: World) -> AsyncIterator[FhirClient]:
    async with embedded_client(world.store) as fhir:
        yield fhir


async def run(
    client: FhirClient,
    world: World,
    model: ChatModel | None,
    question: str = SINGLE_FACT,
    configurable: dict[str, Any] | None = None,
) -> AgentOutput:
    return await ask_agent(client, world.a_id, question, model, configurable=configurable)


def assert_extractive_fallback(output: AgentOutput, said: str) -> None:
    """The answer is the verified extractive one, and the output says why."""
    AgentOutput.model_validate_json(output.model_dump_json())
    assert output.fallback and output.answer.endswith(FALLBACK_NOTE), output.answer
    assert any("could not answer" in n and said in n for n in output.notes), output.notes
    acts = [s for s in output.steps if s.node == "act"]
    assert acts and all(s.error is None for s in acts)
    assert output.citations and all(c.verified for c in output.citations)


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --------------------------------------------------------------------------- model files


def test_missing_gguf_names_the_path_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "medgemma.gguf"
    with pytest.raises(ModelUnavailable) as raised:
        load_model(str(missing))
    message = str(raised.value)
    assert str(missing) in message and "No model file" in message
    assert "--model none" in message or "model pull" in message, message


def test_corrupt_gguf_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(b"this is not a GGUF file\x00" * 4096)
    with pytest.raises(ModelUnavailable, match="Could not load") as raised:
        load_model(str(corrupt), n_ctx=256)
    assert str(corrupt) in str(raised.value)


def test_truncated_gguf_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    """A real GGUF cut short (an interrupted download): valid header, missing tensors."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from agent.models.spec import small_test_model_path

    try:
        source = small_test_model_path()
    except ModelUnavailable as error:
        pytest.skip(str(error))
    truncated = tmp_path / "truncated.gguf"
    with source.open("rb") as whole:
        truncated.write_bytes(whole.read(8 * 1024 * 1024))
    with pytest.raises(ModelUnavailable, match="Could not load"):
        load_model(str(truncated), n_ctx=256)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    for name in ("EHR_AGENT_FHIR_URL", "EHR_AGENT_FHIR_TOKEN", "EHR_AGENT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EHR_AGENT_DB", str(tmp_path / "store.sqlite"))
    monkeypatch.setenv("EHR_AGENT_FIXTURES", str(tmp_path / "no-fixtures"))
    return CliRunner()


@pytest.mark.parametrize("kind", ["missing", "corrupt"])
def test_cli_ask_with_a_bad_model_file_exits_1_with_a_clear_message(
    runner: CliRunner, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / f"{kind}.gguf"
    if kind == "corrupt":
        pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
        path.write_bytes(b"\x00garbage" * 1024)
    result = runner.invoke(
        app, ["ask", "--patient", "anyone", "--model", str(path), "What medications?"]
    )
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert "Cannot use model" in said and path.name in said, said
    assert "Traceback" not in result.output
    # Refused before any store was opened or filled.
    assert not (tmp_path / "store.sqlite").exists()


# --------------------------------------------------------------------------- in the graph


async def test_context_overflow_falls_back_to_the_extractive_answer(
    client: FhirClient, world: World
) -> None:
    """A window too small for even the bare answer prompt: the evidence still answers."""
    model = ScriptedModel(["unused"], name="tiny", context_window=64)
    output = await run(client, world, model)
    assert_extractive_fallback(output, "context")
    assert "Procedures in the record:" in output.answer
    assert len(model.calls) == 1  # one attempt, no retry loop


async def test_context_overflow_while_planning_hands_over_to_the_rules(
    client: FhirClient, world: World
) -> None:
    model = ScriptedModel(["unused"] * 3, name="tiny", context_window=64)
    output = await run(client, world, model, OPEN_QUESTION)
    plan = output.steps[0]
    assert plan.node == "plan" and plan.error and "context" in plan.error
    assert any("rule-based planner took over" in n for n in output.notes)
    assert_extractive_fallback(output, "context")


async def test_openai_endpoint_down_answers_from_the_evidence(
    client: FhirClient, world: World
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    model = load_model(f"openai:{url}#medgemma", timeout=2.0)
    assert model is not None
    output = await run(client, world, model, OPEN_QUESTION)
    assert output.steps[0].error and url in output.steps[0].error
    assert_extractive_fallback(output, url)
    assert output.tokens.llm_calls >= 1


async def test_openai_endpoint_down_direct_call_says_what_to_do() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    model = load_model(f"openai:{url}", timeout=2.0)
    assert model is not None
    with pytest.raises(ModelUnavailable) as raised:
        await model.complete("", "hello", max_tokens=4)
    assert url in str(raised.value) and "--model none" in str(raised.value)


async def test_a_model_error_mid_stream_is_a_fallback_not_a_crash(
    client: FhirClient, world: World
) -> None:
    def explode(system: str, user: str, schema: Any) -> str:
        raise ModelError("the backend died mid-answer")

    output = await run(client, world, ScriptedModel([explode]))
    assert_extractive_fallback(output, "died mid-answer")


# --------------------------------------------------------------------------- real GGUF


@pytest.fixture(scope="module")
def gguf_path() -> Path:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from agent.models.spec import small_test_model_path

    try:
        return small_test_model_path()
    except ModelUnavailable as error:
        pytest.skip(str(error))


@pytest.mark.slow
async def test_real_model_with_a_tiny_context_falls_back(
    client: FhirClient, world: World, gguf_path: Path
) -> None:
    model = load_model(str(gguf_path), n_ctx=256)
    assert model is not None and model.context_window == 256
    with pytest.raises(ContextOverflow, match="n_ctx"):
        await model.complete("", "word " * 400, max_tokens=8)
    output = await run(client, world, model, configurable={"answer_max_tokens": 240})
    assert_extractive_fallback(output, "context")


@pytest.mark.slow
async def test_real_model_generation_timeout_falls_back(
    client: FhirClient, world: World, gguf_path: Path
) -> None:
    model = load_model(str(gguf_path), n_ctx=2048, timeout_seconds=0.001)
    assert model is not None
    output = await run(client, world, model, configurable={"answer_max_tokens": 64})
    assert_extractive_fallback(output, "timed out")
