"""FHIR Bulk Data NDJSON (Synthea's own bulk export) loads like a bundle: file by file,
each file one transaction, in an order a referential-integrity server accepts."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from fhir_client.embedded import EmbeddedStore, embedded_client
from fhir_client.loading import BundleKind, load_paths, plan_load

NDJSON_DIR = Path(__file__).resolve().parents[2] / "synthea_fixtures" / "ndjson"


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _expected_counts(directory: Path) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for path in directory.glob("*.ndjson"):
        counts.update(str(resource["resourceType"]) for resource in _lines(path))
    return dict(sorted(counts.items()))


def test_the_plan_puts_directory_types_then_patients_then_what_points_at_them() -> None:
    plan = plan_load([NDJSON_DIR])

    order = [f.path.name.split(".")[0] for f in plan.files]
    kinds = {f.path.name.split(".")[0]: f.kind for f in plan.files}
    assert set(order[:4]) == {"Organization", "Location", "Practitioner", "PractitionerRole"}
    assert order[4] == "Patient" and kinds["Patient"] is BundleKind.PATIENT
    assert kinds["Observation"] is BundleKind.RECORD_DATA
    assert order.index("Encounter") < order.index("Observation") < order.index("DiagnosticReport")
    assert order.index("Claim") < order.index("ExplanationOfBenefit") < order.index("Provenance")
    assert order[-1] == "Provenance"
    assert len(order) == len(list(NDJSON_DIR.glob("*.ndjson")))


async def test_synthea_bulk_output_loads_line_for_line(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store.sqlite")
    try:
        async with embedded_client(store) as client:
            report = await load_paths(client, [NDJSON_DIR])
            encounter = _lines(NDJSON_DIR / "Encounter.ndjson")[0]
            stored = await client.read("Encounter", str(encounter["id"]))
    finally:
        store.close()

    assert report.failures == []
    assert report.resources_by_type == _expected_counts(NDJSON_DIR)
    assert store_counts(tmp_path / "store.sqlite") == _expected_counts(NDJSON_DIR)
    assert report.patient_count == 2
    # Conditional practitioner references resolve against the run's own Practitioner file.
    assert report.unresolved_references == 0
    individual = stored["participant"][0]["individual"]
    assert individual["reference"].startswith("Practitioner/")
    assert stored["subject"] == encounter["subject"]
    assert stored["period"] == encounter["period"]


def store_counts(db: Path) -> dict[str, int]:
    store = EmbeddedStore(db)
    try:
        return store.counts_by_type()
    finally:
        store.close()


async def test_a_bad_line_fails_its_whole_file_and_nothing_else(tmp_path: Path) -> None:
    source = tmp_path / "bulk"
    shutil.copytree(NDJSON_DIR, source)
    observations = source / "Observation.ndjson"
    lines = observations.read_text().splitlines()
    broken = json.loads(lines[len(lines) // 2])
    broken["id"] = "not a valid id!"
    lines[len(lines) // 2] = json.dumps(broken)
    observations.write_text("\n".join(lines) + "\n")
    store = EmbeddedStore(tmp_path / "store.sqlite")
    try:
        async with embedded_client(store) as client:
            report = await load_paths(client, [source], validate=False)
        counts = store.counts_by_type()
    finally:
        store.close()

    [failure] = report.failures
    assert failure.path.name == "Observation.ndjson"
    assert failure.error is not None and failure.error.entry_index == len(lines) // 2
    assert "nothing from this file was stored" in str(failure.error)
    expected = _expected_counts(NDJSON_DIR)
    assert "Observation" not in counts
    assert counts == {k: v for k, v in expected.items() if k != "Observation"}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"resourceType": "Observation", "id": "a"\n', "not valid JSON"),
        (
            b'{"resourceType": "Observation", "id": "a", "x": '
            + b"[" * 5000
            + b"]" * 5000
            + b"}\n",
            "nested more than 64 levels",
        ),
    ],
    ids=["truncated-line", "deep-line"],
)
def test_a_damaged_ndjson_file_is_reported_by_the_cli_and_the_rest_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, reason: str
) -> None:
    for name in ("EHR_AGENT_DB", "EHR_AGENT_FHIR_URL", "EHR_AGENT_FHIR_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    source = tmp_path / "bulk"
    shutil.copytree(NDJSON_DIR, source)
    (source / "Observation.extra.ndjson").write_bytes(content)
    db = tmp_path / "store.sqlite"

    result = CliRunner().invoke(app, ["load", str(source), "--db", str(db)])

    assert result.exit_code == 1
    assert "Observation.extra.ndjson" in result.output and reason in result.output
    assert "Traceback" not in result.output
    assert "Patients: 2." in result.stdout
    assert store_counts(db) == _expected_counts(NDJSON_DIR)
