"""``langgraph.json``: the file LangGraph's server reads, and the graph it names (in-process).

The named graph must be the real agent graph (not a wrapper), with an input schema that
pydantic accepts, a JSON run context, and its live resources opened at import; the
served-for-real checks (``langgraph dev`` driven by ``langgraph_sdk``) are in
``test_langgraph_dev.py``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from agent.configuration import RunContext
from agent.state import AgentInput
from tests.support.api_server import (
    FIXTURES_DIR,
    fixture_patients,
    hba1c_patient,
    hba1c_results,
    store_copy,
)

REPO = Path(__file__).resolve().parents[3]


def _served_graph(spec: str) -> Any:
    """Import the named module afresh, as the server does, and return the named object."""
    path, _, name = spec.partition(":")
    module_spec = importlib.util.spec_from_file_location("langgraph_entry_under_test", REPO / path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module
    module_spec.loader.exec_module(module)
    return getattr(module, name)


def test_langgraph_json_names_existing_paths() -> None:
    config = json.loads((REPO / "langgraph.json").read_text())
    assert config["dependencies"] == ["."]
    assert set(config["graphs"]) == {"ehr_agent"}
    path, _, name = config["graphs"]["ehr_agent"].partition(":")
    assert (REPO / path).is_file() and name.isidentifier()
    assert all(isinstance(v, str) for v in config.get("env", {}).values())


def test_input_and_context_schemas_are_pydantic_schemas() -> None:
    """What Studio shows: pydantic must accept the input TypedDict on Python 3.11."""
    assert TypeAdapter(AgentInput).json_schema()["required"] == ["question"]
    context = RunContext.model_json_schema()
    assert context["required"] == ["patient_id"] and "model_spec" in context["properties"]


@pytest.fixture
def served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    monkeypatch.setenv("EHR_AGENT_DB", str(store_copy(tmp_path, tmp_path_factory.getbasetemp())))
    monkeypatch.setenv("EHR_AGENT_FIXTURES", str(FIXTURES_DIR))
    monkeypatch.setenv("EHR_AGENT_MODEL", "none")
    monkeypatch.delenv("EHR_AGENT_FHIR_URL", raising=False)
    config = json.loads((REPO / "langgraph.json").read_text())
    return _served_graph(config["graphs"]["ehr_agent"])


async def test_the_named_graph_is_the_agent_and_answers_a_json_context(served: Any) -> None:
    assert served.name == "ehr-agent"
    assert {"route", "plan", "act", "answer", "verify"} <= set(served.nodes)
    patient = hba1c_patient()
    custom: list[dict[str, Any]] = []
    final: dict[str, Any] = {}
    async for mode, chunk in served.astream(
        {"question": "Show the HbA1c trend"},
        context={"patient_id": patient, "model_spec": "none"},
        stream_mode=["custom", "values"],
    ):
        if mode == "custom":
            custom.append(chunk)
        else:
            final = chunk
    assert custom[0]["type"] == "planning"
    truth = hba1c_results(fixture_patients()[patient])
    cited = {c["reference"] for c in final["current"]["citations"]}
    assert len(cited) >= 3 and cited <= set(truth)


async def test_refusals_say_what_to_send(served: Any) -> None:
    with pytest.raises(ValueError, match="needs a run context"):
        await served.ainvoke({"question": "Any allergies?"})
    with pytest.raises(ValueError, match="no patient 'no-such-patient'"):
        await served.ainvoke(
            {"question": "Any allergies?"}, context={"patient_id": "no-such-patient"}
        )
    with pytest.raises(ValueError, match="patient_id\n  Field required"):  # pydantic says
        await served.ainvoke({"question": "Any allergies?"}, context={"patient": "x"})
