"""LangGraph's server keeps a patient's record across runs, on every loop, until a write.

``langgraph dev`` runs each run on an event loop, possibly one per run in a thread of its
own (``BG_JOB_ISOLATED_LOOPS``); the served resources keep one record cache for the
process (agent.record_cache), so the second concept question reuses the record the first
one read, and a write to the store makes the next run read it again.

Real parts: ``langgraph.json``'s module imported afresh as the server imports it, the
committed Synthea fixtures in a real embedded store file, the real graph on the rule
path; the reads are counted by the clients' request observers.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from fhir_client.client import FhirClient
from fhir_client.observe import RequestObservation
from tests.support.api_server import FIXTURES_DIR, fixture_patients, of_type, store_copy

REPO = Path(__file__).resolve().parents[3]
GOUT = {
    "coding": [{"system": "http://snomed.info/sct", "code": "90560007", "display": "Gout"}],
    "text": "Gout",
}


@pytest.fixture
def served_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    """The module ``langgraph.json`` names, imported afresh as the server imports it."""
    monkeypatch.setenv("EHR_AGENT_DB", str(store_copy(tmp_path, tmp_path_factory.getbasetemp())))
    monkeypatch.setenv("EHR_AGENT_FIXTURES", str(FIXTURES_DIR))
    monkeypatch.setenv("EHR_AGENT_MODEL", "none")
    monkeypatch.delenv("EHR_AGENT_FHIR_URL", raising=False)
    path = json.loads((REPO / "langgraph.json").read_text())["graphs"]["ehr_agent"]
    spec = importlib.util.spec_from_file_location(
        "langgraph_entry_record_cache", REPO / path.partition(":")[0]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def _patient_without_gout() -> tuple[str, dict[str, Any]]:
    """A fixture patient with a Condition and no gout, and that Condition."""
    for patient_id, resources in fixture_patients().items():
        conditions = of_type(resources, "Condition")
        if conditions and not any("gout" in str(c.get("code")).lower() for c in conditions):
            return patient_id, conditions[0]
    pytest.fail("no fixture patient has a Condition")


def _everything_reads(seen: list[RequestObservation]) -> int:
    return sum("$everything" in o.path and "_getpages" not in o.path for o in seen)


def test_runs_on_separate_loops_share_the_record_until_a_write(
    served_module: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    resources = served_module.resources
    assert resources.store is not None and resources.records is not None
    seen: list[RequestObservation] = []
    new_client = resources._new_client

    def observed_client() -> FhirClient:  # one per loop, as the server makes them
        client: FhirClient = new_client()
        client.add_observer(seen.append)
        return client

    monkeypatch.setattr(resources, "_new_client", observed_client)
    patient_id, condition = _patient_without_gout()

    def run(question: str) -> dict[str, Any]:
        """One run on a fresh loop in a fresh thread (LangGraph's isolated loops)."""
        work = served_module.graph.ainvoke(
            {"question": question}, context={"patient_id": patient_id, "model_spec": "none"}
        )
        with ThreadPoolExecutor(max_workers=1) as thread:
            values: dict[str, Any] = thread.submit(asyncio.run, work).result()
        turn: dict[str, Any] = values["current"]  # the turn's record (agent.state.TurnState)
        return turn

    target = f"Condition/{condition['id']}"
    first = run("Does the patient have gout?")
    reads = _everything_reads(seen)
    assert reads >= 1, "a concept question reads the record"
    assert target not in {c["reference"] for c in first["citations"]}

    again = run("Is the gout under control?")
    assert _everything_reads(seen) == reads, "the second run, on another loop, reused it"
    assert again["answer"]

    changed = copy.deepcopy(resources.store.read("Condition", condition["id"]))
    changed["code"] = GOUT
    resources.store.put_resources([changed])  # a real write: the kept record is stale

    after = run("Does the patient have gout?")
    assert _everything_reads(seen) > reads, "after the write the record was read again"
    assert target in {c["reference"] for c in after["citations"]}, after["answer"]
