"""``langgraph.json``: the file LangGraph's dev server reads, and the graph it names.

Checks what the server would do with it: every path exists, the named factory imports and
returns a compiled graph, and that graph answers with a JSON run context (all a server
run can send), streams the agent's steps, and keeps a thread across runs.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from langgraph.graph.state import CompiledStateGraph

from agent.api.langgraph_entry import ENV_THREADS_DB
from tests.api_server import (
    FIXTURES_DIR,
    fixture_patients,
    hba1c_patient,
    hba1c_results,
    store_copy,
)

REPO = Path(__file__).resolve().parents[1]


def _factory(spec: str) -> Any:
    path, _, name = spec.partition(":")
    module_spec = importlib.util.spec_from_file_location("langgraph_entry_under_test", REPO / path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module  # as a loader must, for dataclasses to resolve
    module_spec.loader.exec_module(module)
    return getattr(module, name)


def test_langgraph_json_names_existing_paths() -> None:
    config = json.loads((REPO / "langgraph.json").read_text())
    assert config["dependencies"] == ["."]
    assert (REPO / "pyproject.toml").is_file()
    assert set(config["graphs"]) == {"ehr_agent"}
    path, _, name = config["graphs"]["ehr_agent"].partition(":")
    assert (REPO / path).is_file() and name.isidentifier()
    assert all(isinstance(v, str) for v in config.get("env", {}).values())


async def test_the_named_graph_answers_a_json_context_and_keeps_the_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    monkeypatch.setenv("EHR_AGENT_DB", str(store_copy(tmp_path, tmp_path_factory.getbasetemp())))
    monkeypatch.setenv("EHR_AGENT_FIXTURES", str(FIXTURES_DIR))
    monkeypatch.delenv("EHR_AGENT_FHIR_URL", raising=False)
    monkeypatch.setenv(ENV_THREADS_DB, str(tmp_path / "threads.sqlite"))
    config = json.loads((REPO / "langgraph.json").read_text())
    graph = _factory(config["graphs"]["ehr_agent"])()
    assert isinstance(graph, CompiledStateGraph)

    patient = hba1c_patient()
    run = {"configurable": {"thread_id": "lg-thread"}}
    context = {"patient_id": patient, "model": "none"}
    custom: list[dict[str, Any]] = []
    final: dict[str, Any] = {}
    async for mode, chunk in graph.astream(
        {"question": "Show the HbA1c trend"}, run, context=context, stream_mode=["custom", "values"]
    ):
        if mode == "custom":
            custom.append(chunk)
        else:
            final = chunk
    assert custom[0]["type"] == "planning" and custom[-1]["type"] == "done"
    truth = hba1c_results(fixture_patients()[patient])
    cited = {c["reference"] for c in final["output"]["citations"]}
    assert len(cited) >= 3 and cited <= set(truth)

    follow_up = await graph.ainvoke(
        {"question": "what was the first of those?"}, run, context=context
    )
    assert follow_up["output"]["thread_id"] == "lg-thread"
    assert follow_up["output"]["steps"] == []  # answered from the thread, no new lookups
