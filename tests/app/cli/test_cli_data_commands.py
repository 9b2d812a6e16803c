"""``ehr-agent load`` and ``ehr-agent patients`` end to end, on a temporary store."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from concurrent.futures import Future
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from agent.cli import app
from fhir_client.embedded.registry import PATIENT_COMPARTMENT
from fhir_client.loading import loader as loader_module
from fhir_client.loading.parallel_validation import BackgroundValidation
from tests.support.shared_data import synthea_external

REPO = Path(__file__).resolve().parents[3]
PATIENT_FILES = [
    "Bob965_Keeling57_3f6fd0bb-6cd3-eb3f-4401-cd38ace25f2b.json",
    "Cecelia952_Romaguera67_f1731e33-dc55-4ee8-72d7-cece2e49bedd.json",
]


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    # Never touch the developer's real store or a configured server.
    for name in ("EHR_AGENT_DB", "EHR_AGENT_FHIR_URL", "EHR_AGENT_FHIR_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EHR_AGENT_FIXTURES", str(tmp_path / "no-fixtures"))
    return CliRunner()


def _expected_patients(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """id -> {name, birth_date, resource_counts} straight from the bundle files."""
    expected = {}
    for path in paths:
        resources = [e["resource"] for e in json.loads(path.read_bytes())["entry"]]
        patient = next(r for r in resources if r["resourceType"] == "Patient")
        name = next(n for n in patient["name"] if n.get("use") == "official")
        expected[patient["id"]] = {
            "name": " ".join([*name["given"], name["family"]]),
            "birth_date": patient["birthDate"],
            "gender": patient["gender"],
            # The listing counts the Patient compartment (what the store indexes per
            # patient); shared definitions such as Medication belong to no patient.
            "resource_counts": dict(
                sorted(
                    Counter(
                        r["resourceType"]
                        for r in resources
                        if r["resourceType"] in PATIENT_COMPARTMENT
                    ).items()
                )
            ),
        }
    return expected


def _copy(names: list[str], target: Path) -> list[Path]:
    source = synthea_external("fhir-data-pipes-hiv")
    target.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy(source / name, target / name)) for name in names]


def test_load_then_patients_json_lists_the_bundles_patients(
    runner: CliRunner, tmp_path: Path
) -> None:
    source = synthea_external("fhir-data-pipes-hiv")
    patient_paths = [source / name for name in PATIENT_FILES]
    db = tmp_path / "store.sqlite"
    reference_data = sorted(source.glob("*Information*.json"))

    loaded = runner.invoke(
        app, ["load", *map(str, patient_paths), *map(str, reference_data), "--db", str(db)]
    )

    assert loaded.exit_code == 0, loaded.output
    assert "Encounter" in loaded.stdout  # the summary table
    assert "Unresolved references: 0 " in loaded.stdout
    assert "Patients: 2." in loaded.stdout
    listed = runner.invoke(app, ["patients", "--json", "--db", str(db)])
    assert listed.exit_code == 0, listed.output
    patients = json.loads(listed.stdout)  # stdout holds the JSON and nothing else
    assert {
        p["id"]: {k: p[k] for k in ("name", "birth_date", "gender", "resource_counts")}
        for p in patients
    } == (_expected_patients(patient_paths))


def test_empty_store_is_filled_from_the_fixtures_once(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixtures = _copy(PATIENT_FILES[:1], tmp_path / "fixtures")
    monkeypatch.setenv("EHR_AGENT_FIXTURES", str(tmp_path / "fixtures"))
    monkeypatch.setenv("EHR_AGENT_DB", str(tmp_path / "data" / "store.sqlite"))

    first = runner.invoke(app, ["patients", "--json"])
    second = runner.invoke(app, ["patients", "--json"])

    assert first.exit_code == 0, first.output
    assert "loading the Synthea fixtures" in first.stderr
    assert (tmp_path / "data" / "store.sqlite").is_file()  # EHR_AGENT_DB honoured
    assert "loading the Synthea fixtures" not in second.stderr
    assert json.loads(first.stdout) == json.loads(second.stdout)
    assert [p["id"] for p in json.loads(second.stdout)] == list(_expected_patients(fixtures))


def test_db_option_wins_over_the_environment(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EHR_AGENT_DB", str(tmp_path / "env.sqlite"))
    [bundle] = _copy(PATIENT_FILES[1:], tmp_path / "in")

    result = runner.invoke(app, ["load", str(bundle), "--db", str(tmp_path / "option.sqlite")])

    assert result.exit_code == 0, result.output
    assert (tmp_path / "option.sqlite").is_file()
    assert not (tmp_path / "env.sqlite").exists()


def test_a_failed_file_is_named_and_the_exit_code_is_1(runner: CliRunner, tmp_path: Path) -> None:
    [good] = _copy(PATIENT_FILES[:1], tmp_path / "in")
    broken = tmp_path / "in" / "Broken.json"
    broken.write_text('{"resourceType": "Bundle", "entry": [')

    result = runner.invoke(app, ["load", str(tmp_path / "in"), "--db", str(tmp_path / "s.sqlite")])

    assert result.exit_code == 1
    assert "Broken.json" in result.stderr and "not valid JSON" in result.stderr
    listed = runner.invoke(app, ["patients", "--json", "--db", str(tmp_path / "s.sqlite")])
    assert [p["id"] for p in json.loads(listed.stdout)] == list(_expected_patients([good]))


def test_a_missing_path_is_reported_before_anything_loads(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(
        app, ["load", str(tmp_path / "nope"), "--db", str(tmp_path / "s.sqlite")]
    )

    assert result.exit_code == 2
    assert "nope: no such file or directory" in result.stderr
    assert not (tmp_path / "s.sqlite").exists()


def test_python_dash_m_runs_the_cli() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "agent.cli", "--help"],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "load" in completed.stdout and "patients" in completed.stdout


@pytest.mark.slow
def test_repository_fixtures_load_and_list_at_least_ten_patients(
    runner: CliRunner, tmp_path: Path
) -> None:
    """The issue's acceptance check: `load synthea_fixtures`, then `patients --json`."""
    fixtures = REPO / "synthea_fixtures" / "fhir"
    bundles = (
        [p for p in sorted(fixtures.glob("*.json")) if "Information" not in p.name]
        if fixtures.is_dir()
        else []
    )
    if len(bundles) < 10:
        pytest.skip(f"fewer than 10 patient bundles in {fixtures}; generate the fixtures first")
    db = str(tmp_path / "store.sqlite")

    # synthea_fixtures/fhir: on a generating machine synthea_fixtures/work holds other runs.
    loaded = runner.invoke(app, ["load", str(fixtures), "--db", db])
    listed = runner.invoke(app, ["patients", "--json", "--db", db])

    assert loaded.exit_code == 0, loaded.stderr
    patients = json.loads(listed.stdout)
    assert len(patients) >= 10
    expected = _expected_patients(bundles)
    assert {p["id"]: p["resource_counts"] for p in patients} == {
        pid: e["resource_counts"] for pid, e in expected.items()
    }


class _RecordingValidation(BackgroundValidation):
    """The real validation worker, recording which files it was asked to validate."""

    submitted: ClassVar[list[str]] = []

    def submit_bundle(self, path: str) -> Future[tuple[int, str] | None]:
        self.submitted.append(Path(path).name)
        return super().submit_bundle(path)


def test_background_validation_validates_in_the_worker_and_refuses_as_inline(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--background-validation`` reaches the loader: every file goes to the worker, and
    an invalid resource still fails its file (named, exit code 1) while the other loads."""
    [good, bad] = _copy(PATIENT_FILES, tmp_path / "in")
    bundle = json.loads(bad.read_text())
    broken_at = next(
        i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "Observation"
    )
    bundle["entry"][broken_at]["resource"]["status"] = 42
    bad.write_text(json.dumps(bundle))
    monkeypatch.setattr(_RecordingValidation, "submitted", [])
    monkeypatch.setattr(loader_module, "BackgroundValidation", _RecordingValidation)
    db = str(tmp_path / "s.sqlite")

    result = runner.invoke(
        app, ["load", str(tmp_path / "in"), "--background-validation", "--db", db]
    )

    assert result.exit_code == 1, result.output
    assert sorted(_RecordingValidation.submitted) == sorted([good.name, bad.name])
    assert bad.name in result.stderr and "status" in result.stderr
    listed = runner.invoke(app, ["patients", "--json", "--db", db])
    assert [p["id"] for p in json.loads(listed.stdout)] == list(_expected_patients([good]))


def test_background_validation_without_validation_is_refused_before_loading(
    runner: CliRunner, tmp_path: Path
) -> None:
    [bundle] = _copy(PATIENT_FILES[:1], tmp_path / "in")
    db = tmp_path / "s.sqlite"

    result = runner.invoke(
        app, ["load", str(bundle), "--no-validate", "--background-validation", "--db", str(db)]
    )

    assert result.exit_code == 2
    assert "--no-validate" in result.stderr and "--background-validation" in result.stderr
    assert not db.exists()


def test_load_help_says_when_background_validation_helps(runner: CliRunner) -> None:
    result = runner.invoke(app, ["load", "--help"], env={"COLUMNS": "200"})

    assert result.exit_code == 0
    assert "--background-validation" in result.stdout
    assert "more than 2 cores free" in " ".join(result.stdout.replace("│", " ").split())
