"""Replay with the real agent (``--model none``) on all fixture patients and on shared data.

The targets for the rule-based path are evidence recall >= 0.95, citation validity 1.00
and answers right >= 0.90.  Where the agent misses one, the test says which category
and why, instead of the scorer being loosened to pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.replay.answerer import AgentAnswerer
from agent.replay.report import build_report
from agent.replay.runner import Checkpoint, plan_replay, run_replay
from fhir_client.embedded import EmbeddedStore, embedded_client
from fhir_client.loading import load_paths
from tests.support.tools_datasets import Dataset, dataset_directory, load_dataset

pytestmark = pytest.mark.slow


async def _replay(dataset: Dataset, tmp_path: Path) -> dict[str, Any]:
    async with embedded_client(dataset.store) as client:
        plans = await plan_replay(client, [p.id for p in dataset.patients])
        results = await run_replay(
            plans, AgentAnswerer(client, None), Checkpoint(tmp_path / "c.jsonl", "none")
        )
    return build_report(results, {"model": "none", "patients": len(plans)})


@pytest.fixture(scope="module")
def fixtures() -> Iterator[Dataset]:
    loaded = load_dataset("fixtures")
    yield loaded
    loaded.store.close()


@pytest.fixture(scope="module")
def fixture_report(fixtures: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Any:
    import asyncio

    return asyncio.run(_replay(fixtures, tmp_path_factory.mktemp("replay")))


def test_all_fixture_patients_answers_and_citations(fixture_report: dict[str, Any]) -> None:
    overall = fixture_report["overall"]
    print(json.dumps({"overall": overall, "by_category": fixture_report["by_category"]}))
    assert fixture_report["meta"]["patients"] == 12
    assert overall["questions"] >= 100
    assert overall["errors"] == 0
    assert overall["citation_validity"] == 1.0
    assert overall["answer_correct"] >= 0.90
    for name, stats in fixture_report["by_category"].items():
        assert stats["answer_correct"] >= 0.90, (name, stats)
        assert stats["evidence_recall"] >= 0.95, (name, stats)


def test_all_fixture_patients_evidence_recall_target(fixture_report: dict[str, Any]) -> None:
    assert fixture_report["overall"]["evidence_recall"] >= 0.95
    for name in ("counts", "medication_start", "immunizations"):
        assert fixture_report["by_category"][name]["answer_correct"] >= 0.90, name
        assert fixture_report["by_category"][name]["evidence_recall"] >= 0.95, name


@pytest.mark.parametrize("name", ["hiv", "spezi"])
def test_replay_runs_on_shared_synthea(name: str, tmp_path: Path) -> None:
    import asyncio

    dataset = load_dataset(name)
    try:
        report = asyncio.run(_replay(dataset, tmp_path))
    finally:
        dataset.store.close()
    print(name, json.dumps(report["overall"]))
    assert report["overall"]["questions"] >= 10 * len(dataset.patients) // 2
    assert report["overall"]["errors"] == 0
    assert report["overall"]["citation_validity"] == 1.0


def _one_patient_db(tmp_path: Path) -> Path:
    import asyncio

    directory = dataset_directory("fixtures")
    files = [
        *directory.glob("hospitalInformation*.json"),
        *directory.glob("practitionerInformation*.json"),
        next(directory.glob("Alethea978_*.json")),
    ]
    db = tmp_path / "store.db"
    store = EmbeddedStore(db)

    async def load() -> None:
        async with embedded_client(store, timeout=600) as client:
            assert not (await load_paths(client, files, validate=False)).failures

    try:
        asyncio.run(load())
    finally:
        store.close()
    return db


def test_cli_replay_interrupt_resume_and_compare(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _one_patient_db(tmp_path)
    report = tmp_path / "out" / "report.json"
    args = ["replay", "--all", "--db", str(db), "--report", str(report)]
    runner = CliRunner()

    import agent.replay.answerer as answerer_module

    real = answerer_module.AgentAnswerer

    class Interrupting(AgentAnswerer):
        async def __call__(self, patient_id: str, question: str) -> dict[str, Any]:
            if Interrupting.calls == 3:
                raise KeyboardInterrupt
            Interrupting.calls += 1
            output: dict[str, Any] = await super().__call__(patient_id, question)
            return output

        calls = 0

    monkeypatch.setattr(answerer_module, "AgentAnswerer", Interrupting)
    interrupted = runner.invoke(app, args)
    assert interrupted.exit_code == 130, interrupted.output
    partial = json.loads(report.read_text())
    assert partial["meta"]["complete"] is False and partial["overall"]["questions"] == 3
    assert report.with_name("report.json.partial.jsonl").exists()

    monkeypatch.setattr(answerer_module, "AgentAnswerer", real)
    resumed = runner.invoke(app, args)
    assert resumed.exit_code == 0, resumed.output
    done = json.loads(report.read_text())
    assert done["meta"]["complete"] is True and done["overall"]["questions"] >= 20
    assert not report.with_name("report.json.partial.jsonl").exists()
    assert report.with_suffix(".md").read_text().startswith("# Replay report")
    assert "overall" in resumed.stdout and "latest_lab" in resumed.stdout
    assert set(done) >= {"overall", "by_category", "questions"}

    old = tmp_path / "old.json"
    old.write_text(report.read_text())
    compared = runner.invoke(app, [*args, "--compare", str(old)])
    assert compared.exit_code == 0, compared.output
    assert "0 regression(s), 0 improvement(s)" in compared.stdout

    missing = runner.invoke(
        app, ["replay", "nobody", "--db", str(db), "--report", str(tmp_path / "x.json")]
    )
    assert missing.exit_code == 1 and "ehr-agent patients" in missing.output
