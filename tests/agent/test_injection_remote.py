"""The injection cases through a remote FHIR server (``--fhir-url``), over real HTTP.

Issue 11 asks for "the same attacks on a remote server": the embedded facade holding the
hostile records is served by uvicorn on 127.0.0.1 (port 0), and the agent reaches it
through a network ``FhirClient``, and through the CLI's ``ask --fhir-url``, exactly as
a user pointing ehr-agent at HAPI or a cloud EHR would.  The server records every
request it receives: the proof that nothing asked for patient B.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from typer.testing import CliRunner

from agent import AgentOutput
from agent.cli import app as cli
from agent.models.base import ChatModel
from fhir_client import FhirClient
from fhir_client.embedded import embedded_asgi_app
from tests.support.agent_ask import ask_agent
from tests.support.injection_cases import CASES, InjectionCase, World
from tests.support.injection_checks import assert_record_text_inert, assert_safe
from tests.support.injection_run import CASE_IDS, obedient_attacker, planted_reference, world

__all__ = ["world"]  # the shared module-scoped fixture: two patients, every case planted


class RecordingApp:
    """Records (method, URL as a client would have written it) of every HTTP request."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner
        self.requests: list[tuple[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = scope.get("query_string", b"").decode("latin-1")
            url = "http://embedded.local" + scope["path"] + (f"?{query}" if query else "")
            self.requests.append((scope["method"], url))
        await self.inner(scope, receive, send)


@pytest.fixture(scope="module")
def remote(world: World) -> Iterator[tuple[str, RecordingApp]]:
    """The hostile store behind uvicorn on loopback; yields its FHIR base URL."""
    recorder = RecordingApp(embedded_asgi_app(world.store))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(recorder, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/fhir", recorder
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


async def run_remote(
    remote: tuple[str, RecordingApp], world: World, case: InjectionCase, model: ChatModel | None
) -> tuple[AgentOutput, list[tuple[str, str]]]:
    url, recorder = remote
    start = len(recorder.requests)
    async with FhirClient(url) as client:
        output = await ask_agent(client, world.a_id, case.question, model)
    return output, recorder.requests[start:]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_remote_rule_based_path_holds(
    remote: tuple[str, RecordingApp], world: World, case: InjectionCase
) -> None:
    output, requests = await run_remote(remote, world, case, None)
    assert_safe(world, output, requests)
    assert_record_text_inert(case, output, [])
    assert planted_reference(case, world) in {e.reference for e in output.evidence}


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_remote_obedient_attacker_holds(
    remote: tuple[str, RecordingApp], world: World, case: InjectionCase
) -> None:
    model = obedient_attacker(case, world)
    output, requests = await run_remote(remote, world, case, model)
    assert_safe(world, output, requests)
    assert_record_text_inert(case, output, [call.user for call in model.calls])


CLI_CASES = [
    c
    for c in CASES
    if c.id
    in (
        "patient_name_newline_fake_bullets",
        "observation_unit_newline",
        "condition_fullwidth_brackets",
    )
]


@pytest.mark.slow
@pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
def test_cli_ask_with_fhir_url_holds(
    remote: tuple[str, RecordingApp],
    world: World,
    case: InjectionCase,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    """``ehr-agent ask --fhir-url URL --model none --json``: the user's door, end to end."""
    url, recorder = remote
    for name in ("EHR_AGENT_FHIR_URL", "EHR_AGENT_FHIR_TOKEN", "EHR_AGENT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EHR_AGENT_DB", str(tmp_path / "unused.sqlite"))
    monkeypatch.setenv("EHR_AGENT_DATA", str(tmp_path))
    start = len(recorder.requests)
    result = CliRunner().invoke(
        cli,
        ["ask", "--fhir-url", url, "--patient", world.a_id, "--model", "none", "--json",
         case.question],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    output = AgentOutput.model_validate(json.loads(result.stdout))
    assert_safe(world, output, recorder.requests[start:])
    assert_record_text_inert(case, output, [])
