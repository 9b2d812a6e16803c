"""R4B validation in a worker process gives the in-process verdicts, on real Synthea."""

from __future__ import annotations

import json
from pathlib import Path

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
