"""LangGraph's own server (``langgraph dev``) serving the real graph, driven by langgraph_sdk.

What a LangGraph user does: start ``langgraph dev`` with the repository's
``langgraph.json``, then create threads and stream runs with the SDK.  Checked here: the
schemas Studio shows (input, output, context), a streamed answer whose citations are the
patient's own HbA1c results, a follow-up on the thread, and that no turn leaks into the
next: a failed turn (another patient on the thread, no context, an unknown patient)
leaves no earlier answer behind.  The server refuses blocking calls in a run (it is not
started with ``--allow-blocking``), so this also proves file set-up stays off its loop.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.api_server import (
    FIXTURES_DIR,
    fixture_patients,
    hba1c_patient,
    hba1c_results,
    store_copy,
)

pytestmark = pytest.mark.slow
langgraph_sdk = pytest.importorskip("langgraph_sdk")

REPO = Path(__file__).resolve().parents[3]
GRAPH = "ehr_agent"
ENV_CLI = "EHR_AGENT_LANGGRAPH_CLI"
START_TIMEOUT_SECONDS = 180


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # Its own venv (pip install -e '.[agent,langgraph-server]'): see pyproject's extra.
    cli = Path(os.environ.get(ENV_CLI) or Path(sys.executable).parent / "langgraph")
    if not cli.exists() or shutil.which(str(cli)) is None:
        message = f"langgraph dev not found at {cli}: set {ENV_CLI} (.ci/run does)"
        if os.environ.get(ENV_CLI):
            pytest.fail(message)
        pytest.skip(message)
    work = tmp_path_factory.mktemp("langgraph-dev")
    port = _free_port()
    env = {
        **os.environ,
        "EHR_AGENT_DB": str(store_copy(work, tmp_path_factory.getbasetemp())),
        "EHR_AGENT_FIXTURES": str(FIXTURES_DIR),
        "EHR_AGENT_MODEL": "none",
        "LANGSMITH_TRACING": "false",
        "LANGCHAIN_TRACING_V2": "false",
    }
    env.pop("EHR_AGENT_FHIR_URL", None)
    log = (work / "server.log").open("w")
    server = subprocess.Popen(
        [
            str(cli),
            "dev",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-browser",
            "--no-reload",
            "--config",
            str(REPO / "langgraph.json"),
        ],
        cwd=REPO,  # langgraph.json's paths are relative to the working directory
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                if httpx.get(f"{url}/ok", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"langgraph dev did not start:\n{(work / 'server.log').read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


async def _run(client: Any, thread_id: str | None, question: str, **options: Any) -> dict[str, Any]:
    """One streamed run: its custom events, last values and error (if any)."""
    custom: list[dict[str, Any]] = []
    values: dict[str, Any] = {}
    error: Any = None
    async for part in client.runs.stream(
        thread_id, GRAPH, input={"question": question}, stream_mode=["custom", "values"], **options
    ):
        if part.event == "custom":
            custom.append(part.data)
        elif part.event == "values":
            values = part.data
        elif part.event == "error":
            error = part.data
    return {"custom": custom, "values": values, "error": error}


async def test_schemas_are_served(dev_server: str) -> None:
    client = langgraph_sdk.get_client(url=dev_server)
    [assistant] = await client.assistants.search(graph_id=GRAPH)
    schemas = await client.assistants.get_schemas(assistant["assistant_id"])
    assert schemas["input_schema"]["required"] == ["question"]
    output = schemas["output_schema"]
    assert output["properties"]["current"] == {"$ref": "#/$defs/TurnState"}
    assert {"answer", "citations", "steps"} <= set(output["$defs"]["TurnState"]["properties"])
    assert schemas["context_schema"]["required"] == ["patient_id"]


async def test_threads_stream_follow_up_and_no_leak_between_turns(dev_server: str) -> None:
    client = langgraph_sdk.get_client(url=dev_server)
    patient = hba1c_patient()
    thread = (await client.threads.create())["thread_id"]
    context = {"patient_id": patient, "model_spec": "none"}

    first = await _run(client, thread, "Show the HbA1c trend", context=context)
    assert first["error"] is None
    assert first["custom"][0]["type"] == "planning"
    truth = hba1c_results(fixture_patients()[patient])
    cited = {c["reference"] for c in first["values"]["current"]["citations"]}
    assert len(cited) >= 3 and cited <= set(truth)

    follow = await _run(client, thread, "what was the first of those?", context=context)
    assert follow["error"] is None and follow["values"]["current"]["steps"] == []
    assert follow["values"]["current"]["answer"] and follow["values"]["turn"] == 2

    other = next(p for p in fixture_patients() if p != patient)
    failed = await _run(client, thread, "What medications?", context={"patient_id": other})
    assert failed["error"] is not None and "another" in str(failed["error"])
    state = await client.threads.get_state(thread)
    # The failed turn's record replaced the first turn's whole: no answer, no citations.
    assert state["values"]["current"]["answer"] == ""
    assert state["values"]["current"]["citations"] == []
    assert state["values"]["patient_id"] == patient  # the thread is still the first patient's


async def test_refusals_name_what_to_send(dev_server: str) -> None:
    client = langgraph_sdk.get_client(url=dev_server)
    no_context = await _run(client, None, "Any allergies?")  # the server sends {}
    assert "patient_id\\n  Field required" in str(no_context["error"])
    unknown = await _run(client, None, "Any allergies?", context={"patient_id": "nobody-here"})
    assert "no patient 'nobody-here'" in str(unknown["error"])
    assert not unknown["values"].get("current", {}).get("answer")
