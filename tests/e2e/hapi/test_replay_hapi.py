"""``ehr-agent replay --fhir-url`` against a real HAPI FHIR server holding the fixtures.

HAPI pages ``$everything`` 20 resources at a time by default; with the client's old
20-page limit every fixture patient (all above 400 resources) failed with "has more
results than 20 page(s)". The client now asks for ``EVERYTHING_PAGE_SIZE`` per page
and follows up to ``MAX_EVERYTHING_PAGES``. The replay over HAPI must score exactly as
the same replay over the embedded store holding the same fixtures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.cli import app
from tests.support.api_server import store_copy
from tests.support.conformance_queries import patient_resources

pytestmark = pytest.mark.hapi


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    for name in ("EHR_AGENT_FHIR_URL", "EHR_AGENT_FHIR_TOKEN", "EHR_AGENT_MODEL", "EHR_AGENT_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return CliRunner()


def _replay(runner: CliRunner, patient_id: str, source: list[str], report: Path) -> dict[str, Any]:
    args = ["replay", patient_id, *source, "--model", "none", "--report", str(report)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return dict(json.loads(report.read_text("utf-8")))


def _scores(document: dict[str, Any]) -> dict[str, Any]:
    """Per-question scores, without timings (which differ between servers)."""
    return {q["id"]: q["score"] for q in document["questions"]}


def test_replay_over_hapi_scores_as_over_the_embedded_store(
    runner: CliRunner, hapi_with_fixtures: str, fixtures_dir: Path, tmp_path: Path
) -> None:
    paths = sorted(p for p in fixtures_dir.glob("*.json") if "Information" not in p.name)
    patient_id, resources = max((patient_resources(p) for p in paths), key=lambda r: len(r[1]))
    assert len(resources) > 20 * 20, "needs a record beyond HAPI's default 20 x 20 resources"

    over_hapi = _replay(
        runner, patient_id, ["--fhir-url", hapi_with_fixtures], tmp_path / "hapi.json"
    )
    db = store_copy(tmp_path, tmp_path / "shared")
    over_store = _replay(runner, patient_id, ["--db", str(db)], tmp_path / "store.json")

    assert over_hapi["meta"]["source"].startswith("FHIR server")
    assert over_hapi["overall"]["questions"] >= 20
    assert over_hapi["overall"]["errors"] == 0
    assert _scores(over_hapi) == _scores(over_store)
    for metric in ("answer_correct", "evidence_recall", "citation_validity", "citation_recall"):
        assert over_hapi["overall"][metric] == over_store["overall"][metric], metric
