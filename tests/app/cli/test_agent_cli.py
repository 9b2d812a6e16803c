"""``ehr-agent ask`` and ``ehr-agent summary`` end to end with ``--model none``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.output import AgentOutput
from agent.summary import SummaryOutput
from tests.support import agent_truth as truth
from tests.support.tools_datasets import Dataset, PatientRecord

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli") / "store.sqlite"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, store: Path) -> CliRunner:
    for name in ("EHR_AGENT_FHIR_URL", "EHR_AGENT_FHIR_TOKEN", "EHR_AGENT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EHR_AGENT_DB", str(store))  # filled from the fixtures on first use
    monkeypatch.setenv("EHR_AGENT_FIXTURES", str(REPO / "synthea_fixtures" / "fhir"))
    return CliRunner()


def _patient(dataset: Dataset) -> PatientRecord:
    return max(dataset.patients, key=lambda r: len(r.of("Encounter")))


def test_ask_json_meets_the_output_contract(runner: CliRunner, dataset: Dataset) -> None:
    record = _patient(dataset)
    result = runner.invoke(
        app,
        ["ask", "--patient", record.id, "--model", "none", "--json", "When was the last visit?"],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == set(AgentOutput.model_json_schema()["properties"])
    output = AgentOutput.model_validate(payload)
    latest_day, refs = truth.newest(record.of("Encounter"))
    assert latest_day in output.answer and truth.cited(output.answer) <= refs
    assert output.model == "none" and output.patient_id == record.id
    assert [c.verified for c in output.citations] == [True]
    assert output.steps[0].tool == "encounters"


def test_ask_human_output_has_sources_and_reminder(runner: CliRunner, dataset: Dataset) -> None:
    record = _patient(dataset)
    result = runner.invoke(app, ["ask", "-p", record.id, "Does the patient have any allergies?"])
    assert result.exit_code == 0, result.output
    assert "not for clinical decisions" in result.stdout
    for reference in truth.active_allergies(record):
        assert reference.split("/")[1][:8] in result.stdout


def test_ask_unknown_patient_is_a_clear_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["ask", "--patient", "no-such-id", "--json", "Any allergies?"])
    assert result.exit_code == 1
    assert "No patient 'no-such-id'" in result.stderr and "ehr-agent patients" in result.stderr
    assert result.stdout == ""


def test_ask_bad_model_spec_is_a_clear_error(runner: CliRunner, dataset: Dataset) -> None:
    result = runner.invoke(app, ["ask", "-p", _patient(dataset).id, "-m", "gpt-9", "x"])
    assert result.exit_code == 1 and "Cannot use model 'gpt-9'" in result.stderr


def test_ask_thread_continues_across_invocations(
    runner: CliRunner, dataset: Dataset, tmp_path: Path
) -> None:
    record = _patient(dataset)
    threads = ["--thread", "t1", "--checkpoint-db", str(tmp_path / "threads.sqlite"), "--json"]
    first = runner.invoke(app, ["ask", "-p", record.id, *threads, "Any allergies?"])
    second = runner.invoke(app, ["ask", "-p", record.id, *threads, "which of those are food?"])
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    output = AgentOutput.model_validate_json(second.stdout)
    assert output.steps == [] and output.thread_id == "t1"
    food = {
        truth.ref(a) for a in record.of("AllergyIntolerance") if a.get("category") == ["food"]
    } & truth.active_allergies(record)
    assert truth.cited(output.answer) == food


def test_summary_json_is_cited_and_complete(runner: CliRunner, dataset: Dataset) -> None:
    record = _patient(dataset)
    result = runner.invoke(app, ["summary", "--patient", record.id, "--json"])
    assert result.exit_code == 0, result.output
    summary = SummaryOutput.model_validate_json(result.stdout)
    titles = [s.title for s in summary.sections]
    assert titles == [
        "Problems",
        "Social history",
        "Medications",
        "Allergies",
        "Recent labs",
        "Recent vitals",
        "Recent encounters",
        "Immunizations",
    ]
    assert summary.patient is not None and summary.patient.references == [f"Patient/{record.id}"]
    everything = {truth.ref(r) for kind in record.by_type.values() for r in kind}
    for section in summary.sections:
        for item in section.items:
            assert item.references and set(item.references) <= everything
            assert truth.cited(item.text) == set(item.references)
    allergies = next(s for s in summary.sections if s.title == "Allergies")
    cited = {ref for item in allergies.items for ref in item.references}
    assert cited == truth.active_allergies(record)
    assert summary.tokens <= 2048


def test_ask_without_a_model_uses_the_default_and_says_so_once(
    runner: CliRunner, dataset: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EHR_AGENT_MODELS", str(tmp_path))  # an empty cache: no MedGemma
    record = _patient(dataset)
    result = runner.invoke(app, ["ask", "--patient", record.id, "--json", "Any allergies?"])
    assert result.exit_code == 0, result.output
    assert AgentOutput.model_validate_json(result.stdout).model == "none"
    assert result.stderr.count("ehr-agent model pull") == 1
    summary = runner.invoke(app, ["summary", "--patient", record.id, "--json"])
    assert summary.exit_code == 0 and summary.stderr.count("ehr-agent model pull") == 1


def test_ask_defaults_to_medgemma_when_it_is_cached(
    runner: CliRunner, dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agent.models.spec as specs

    chosen: list[str] = []

    def fake_load(spec: str) -> None:
        chosen.append(spec)

    monkeypatch.setattr(specs, "default_model_spec", lambda: ("medgemma", None))
    monkeypatch.setattr(specs, "load_model", fake_load)
    record = _patient(dataset)
    result = runner.invoke(app, ["ask", "--patient", record.id, "--json", "Any allergies?"])
    assert result.exit_code == 0, result.output
    assert chosen == ["medgemma"] and "model pull" not in result.stderr
    monkeypatch.setenv("EHR_AGENT_MODEL", "none")
    runner.invoke(app, ["ask", "--patient", record.id, "--json", "Any allergies?"])
    assert chosen == ["medgemma", "none"]


def test_summary_checks_a_model_spec_without_loading_it(
    runner: CliRunner, dataset: Dataset, tmp_path: Path
) -> None:
    """``summary`` needs no model: a named GGUF is checked to exist, never loaded."""
    record = _patient(dataset)
    not_a_model = tmp_path / "weights.gguf"
    not_a_model.write_text("not GGUF bytes: loading this would fail")
    result = runner.invoke(
        app, ["summary", "--patient", record.id, "--json", "--model", str(not_a_model)]
    )
    assert result.exit_code == 0, result.output
    assert SummaryOutput.model_validate_json(result.stdout).patient_id == record.id
    missing = runner.invoke(
        app, ["summary", "--patient", record.id, "--model", str(tmp_path / "gone.gguf")]
    )
    assert missing.exit_code == 1 and "no GGUF file at" in missing.stderr
