"""R4B validation in a worker process gives the in-process verdicts, on real Synthea."""

from __future__ import annotations

import json
from pathlib import Path

from fhir_client.embedded import EmbeddedStore, embedded_client
from fhir_client.loading import LoadReport, load_paths
from fhir_client.loading.parallel_validation import BackgroundValidation, first_problem
from fhir_client.loading.validation import resource_problem

FIXTURES = Path(__file__).resolve().parents[2] / "synthea_fixtures" / "fhir"


def _resources() -> list[dict[str, object]]:
    smallest = min(
        (p for p in FIXTURES.glob("*.json") if "Information" not in p.name),
        key=lambda p: p.stat().st_size,
    )
    resources = [entry["resource"] for entry in json.loads(smallest.read_text())["entry"]]
    # A slice with every kind of resource the bundle holds, Observations included.
    return resources[:40] + [r for r in resources if r["resourceType"] == "Observation"][:40]


def test_worker_verdicts_match_in_process_validation() -> None:
    good = _resources()
    broken = [dict(r) for r in good]
    observation = next(i for i, r in enumerate(broken) if r["resourceType"] == "Observation")
    broken[observation] = {**broken[observation], "status": 42}
    expected = resource_problem(broken[observation])
    assert expected is not None and "status" in expected
    with BackgroundValidation() as validation:
        clean = validation.submit(good)
        dirty = validation.submit(broken)
        assert clean.result(timeout=300) is None
        assert dirty.result(timeout=300) == (observation, expected)


def test_the_first_problem_is_reported_by_index() -> None:
    resources = [{"resourceType": "Patient", "id": "a"}, {"resourceType": "Nonsense"}]
    index, problem = first_problem(json.dumps(resources).encode()) or (None, "")
    assert index == 1
    assert "'Nonsense' is not a FHIR R4 resource type" in problem


async def _load(files: list[Path], *, background: bool) -> tuple[LoadReport, dict[str, int]]:
    store = EmbeddedStore(":memory:")
    try:
        async with embedded_client(store, timeout=600.0) as client:
            report = await load_paths(client, files, background_validation=background)
        return report, store.counts_by_type()
    finally:
        store.close()


async def test_the_loader_with_a_validation_worker_loads_and_refuses_as_inline(
    tmp_path: Path,
) -> None:
    """Wired into the loader: same store, same failure, same message, file for file."""
    patients = sorted(
        (p for p in FIXTURES.glob("*.json") if "Information" not in p.name),
        key=lambda p: p.stat().st_size,
    )[:2]
    bundle = json.loads(patients[1].read_text())
    broken_at = max(
        i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "Observation"
    )
    bundle["entry"][broken_at]["resource"]["status"] = 42
    broken = tmp_path / patients[1].name
    broken.write_text(json.dumps(bundle))
    files = [patients[0], broken]

    inline, inline_counts = await _load(files, background=False)
    worker, worker_counts = await _load(files, background=True)

    assert [r.path for r in worker.loaded_files] == [patients[0]]
    assert worker_counts == inline_counts and worker_counts["Patient"] == 1
    [failure] = worker.failures
    assert failure.error is not None and failure.error.entry_index == broken_at
    assert str(failure.error) == str(inline.failures[0].error)
    assert "is not valid FHIR R4: Observation.status" in str(failure.error)
