"""Every ``ehr-agent`` command once, end to end, with its machine-readable contract.

``--json`` outputs are validated with ``jsonschema`` against the published schemas
(``AgentOutput.model_json_schema()``, ``SummaryOutput.model_json_schema()``, and the
``patients --json`` schema below), so a field renamed in code but not in the schema, or
the reverse, fails here. The store is filled by ``ehr-agent load`` itself; expected
ids and values come from the bundle JSON. ``chat`` through a real terminal is in
``tests/e2e/pty/test_chat_pty.py``; here it runs with piped input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.output import AgentOutput
from agent.summary import SummaryOutput
from tests.support import agent_truth as truth
from tests.support.tools_datasets import PatientRecord

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "synthea_fixtures" / "fhir"

PATIENTS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "id",
            "name",
            "gender",
            "birth_date",
            "deceased",
            "deceased_date",
            "resource_counts",
            "resource_total",
        ],
        "properties": {
            "id": {"type": "string", "minLength": 1},
            "name": {"type": "string"},
            "gender": {"type": ["string", "null"]},
            "birth_date": {"type": ["string", "null"]},
            "deceased": {"type": "boolean"},
            "deceased_date": {"type": ["string", "null"]},
            "resource_counts": {"type": "object", "additionalProperties": {"type": "integer"}},
            "resource_total": {"type": "integer", "minimum": 0},
        },
    },
}


def _bundle_patients() -> dict[str, list[dict[str, Any]]]:
    """Patient id -> the resources of its bundle, straight from the fixture JSON."""
    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(FIXTURES.glob("*.json")):
        resources = [e["resource"] for e in json.loads(path.read_text("utf-8")).get("entry", [])]
        for resource in resources:
            if resource["resourceType"] == "Patient":
                found[str(resource["id"])] = resources
    return found


@pytest.fixture(scope="module")
def bundles() -> dict[str, list[dict[str, Any]]]:
    return _bundle_patients()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("contract") / "store.sqlite"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    for name in ("EHR_AGENT_FHIR_URL", "EHR_AGENT_FHIR_TOKEN", "EHR_AGENT_MODEL", "EHR_AGENT_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EHR_AGENT_FIXTURES", str(tmp_path / "no-fixtures"))  # load does it
    monkeypatch.setenv("EHR_AGENT_MODELS", str(tmp_path / "models"))  # an empty model cache
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


@pytest.fixture(scope="module")
def loaded(store: Path) -> str:
    """``ehr-agent load`` into a fresh store; its stdout, for the load test."""
    result = CliRunner().invoke(app, ["load", "--db", str(store), str(FIXTURES)])
    assert result.exit_code == 0, result.output
    return result.stdout


def _record(bundles: dict[str, list[dict[str, Any]]], patient_id: str) -> PatientRecord:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in bundles[patient_id]:
        by_type.setdefault(resource["resourceType"], []).append(resource)
    return PatientRecord(by_type["Patient"][0], by_type)


def _diabetic(bundles: dict[str, list[dict[str, Any]]]) -> PatientRecord:
    for patient_id in sorted(bundles):
        record = _record(bundles, patient_id)
        if truth.hba1c_results(record):
            return record
    pytest.fail("no fixture patient has an HbA1c result")


def test_load_reports_every_patient(loaded: str, bundles: dict[str, Any]) -> None:
    assert f"Patients: {len(bundles)}." in loaded
    assert "0 failed" in loaded


def test_patients_lists_every_id(runner: CliRunner, store: Path, loaded: str) -> None:
    result = runner.invoke(app, ["patients", "--db", str(store)])
    assert result.exit_code == 0, result.output
    for patient_id in _bundle_patients():
        assert patient_id in result.stdout


def test_patients_json_meets_its_schema(
    runner: CliRunner, store: Path, loaded: str, bundles: dict[str, list[dict[str, Any]]]
) -> None:
    result = runner.invoke(app, ["patients", "--db", str(store), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    jsonschema.validate(payload, PATIENTS_SCHEMA)
    assert {p["id"] for p in payload} == set(bundles)
    for patient in payload:
        own = [r for r in bundles[patient["id"]] if r["resourceType"] in patient["resource_counts"]]
        assert patient["resource_total"] == len(own)


def test_ask_json_meets_the_published_schema(
    runner: CliRunner, store: Path, loaded: str, bundles: dict[str, list[dict[str, Any]]]
) -> None:
    record = _diabetic(bundles)
    args = ["ask", "--db", str(store), "-p", record.id, "-m", "none", "--json", "Latest HbA1c?"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    jsonschema.validate(payload, AgentOutput.model_json_schema())
    latest_day, refs = truth.newest(truth.hba1c_results(record))
    assert latest_day in payload["answer"] and truth.cited(payload["answer"]) <= refs


def test_summary_json_meets_the_published_schema(
    runner: CliRunner, store: Path, loaded: str, bundles: dict[str, list[dict[str, Any]]]
) -> None:
    record = _diabetic(bundles)
    result = runner.invoke(app, ["summary", "--db", str(store), "-p", record.id, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    jsonschema.validate(payload, SummaryOutput.model_json_schema())
    assert payload["patient_id"] == record.id


@pytest.mark.parametrize("command", ["ask", "summary", "chat"])
def test_unknown_patient_exits_1_with_a_clear_message(
    runner: CliRunner, store: Path, loaded: str, command: str
) -> None:
    args = [command, "--db", str(store), "--patient", "no-such-id", "-m", "none"]
    result = runner.invoke(app, [*args, "Any allergies?"] if command == "ask" else args, input="")
    assert result.exit_code == 1, result.output
    assert "'no-such-id'" in result.stderr and "ehr-agent patients" in result.stderr
    assert "Traceback" not in result.output


def test_empty_question_is_a_clear_error(
    runner: CliRunner, store: Path, loaded: str, bundles: dict[str, Any]
) -> None:
    patient_id = sorted(bundles)[0]
    result = runner.invoke(app, ["ask", "--db", str(store), "-p", patient_id, "-m", "none", " "])
    assert result.exit_code == 1
    assert "the question is empty" in result.stderr and result.stdout == ""


def test_model_list_with_an_empty_cache(runner: CliRunner) -> None:
    result = runner.invoke(app, ["model", "list"])
    assert result.exit_code == 0, result.output
    assert "No GGUF files cached" in result.stdout
    assert "Default model: none" in result.stdout


def test_replay_one_patient_writes_a_scored_report(
    runner: CliRunner, store: Path, loaded: str, bundles: dict[str, Any], tmp_path: Path
) -> None:
    patient_id = _diabetic(bundles).id
    report = tmp_path / "replay.json"
    args = ["replay", patient_id, "--db", str(store), "--model", "none", "--report", str(report)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    document = json.loads(report.read_text("utf-8"))
    assert document and str(report) in result.stderr


def test_replay_without_patients_says_what_to_pass(runner: CliRunner, store: Path) -> None:
    result = runner.invoke(app, ["replay", "--db", str(store), "--model", "none"])
    assert result.exit_code == 1 and "--all" in result.stderr


def test_chat_with_piped_input_answers_and_says_the_default_model_once(
    runner: CliRunner, store: Path, loaded: str, bundles: dict[str, list[dict[str, Any]]]
) -> None:
    record = _diabetic(bundles)
    latest_day, refs = truth.newest(truth.hba1c_results(record))
    result = runner.invoke(
        app,
        ["chat", "--db", str(store), "-p", record.id],
        input="What was the latest HbA1c?\n/sources\n/quit\n",
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.count("answering without a model") == 1  # no --model: the default, said once
    assert "→ lab_results(" in out and latest_day in out
    assert sum(out.count(ref) for ref in refs) >= 3  # the answer, its table, /sources
    assert "not for clinical decisions" in out
    assert (store.parent / "threads.sqlite").exists()


def test_serve_help(runner: CliRunner) -> None:
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0, result.output
    assert "--port" in result.stdout or "--host" in result.stdout
