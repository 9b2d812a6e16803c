"""Synthea datasets for the tool tests: locate, load into an embedded store, read the JSON.

The tool tests compute every expected answer from the bundle JSON itself (``Dataset``
holds each patient's resources by type), never through the tools, then ask the tools the
same question through the real FHIR facade.  Datasets under ``/work/shared`` skip with a
reason when absent (fail under ``CI``); our own fixtures skip while they are not generated.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fhir_client.embedded import EmbeddedStore, embedded_client
from fhir_client.loading import load_paths
from tests.support.shared_data import SYNTHEA_EXTERNAL

REPO = Path(__file__).resolve().parents[2]
DATASET_DIRECTORIES = {
    "fixtures": REPO / "synthea_fixtures" / "fhir",
    "hiv": SYNTHEA_EXTERNAL / "fhir-data-pipes-hiv",
    "spezi": SYNTHEA_EXTERNAL / "spezi-mock-patients",
}
_REFERENCE_DATA = ("hospitalInformation", "practitionerInformation")

Resource = dict[str, Any]


@dataclass
class PatientRecord:
    """One patient's resources from the bundle JSON, by resource type."""

    patient: Resource
    by_type: dict[str, list[Resource]] = field(default_factory=lambda: defaultdict(list))

    @property
    def id(self) -> str:
        return str(self.patient["id"])

    def of(self, resource_type: str) -> list[Resource]:
        return self.by_type.get(resource_type, [])


@dataclass
class Dataset:
    name: str
    store: EmbeddedStore
    patients: list[PatientRecord]
    shared: dict[str, Resource]  # "Medication/x" -> resource (non-compartment resources)


def _rewrite(node: Any, targets: dict[str, str]) -> Any:
    """Replace ``urn:uuid:X`` references by ``Type/X`` as a FHIR server would store them."""
    if isinstance(node, dict):
        out = {k: _rewrite(v, targets) for k, v in node.items()}
        ref = out.get("reference")
        if isinstance(ref, str) and ref in targets:
            out["reference"] = targets[ref]
        return out
    if isinstance(node, list):
        return [_rewrite(item, targets) for item in node]
    return node


def _bundle_resources(path: Path) -> list[Resource]:
    bundle = json.loads(path.read_bytes())
    entries = [e for e in bundle.get("entry", []) if isinstance(e.get("resource"), dict)]
    targets = {
        e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in entries
        if isinstance(e.get("fullUrl"), str) and "id" in e["resource"]
    }
    return [_rewrite(e["resource"], targets) for e in entries]


def dataset_directory(name: str) -> Path:
    """The dataset's directory, or skip (fail under CI for the shared sets) if absent."""
    directory = DATASET_DIRECTORIES[name]
    has_bundles = directory.is_dir() and any(directory.glob("*.json"))
    if has_bundles:
        return directory
    reason = f"dataset {name!r} not found at {directory}"
    if name == "fixtures":
        pytest.skip(reason + "; generate it with synthea_fixtures/generate.sh")
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason + "; set EHR_AGENT_SYNTHEA_EXTERNAL to the synthea-external directory")


def _load_into(store: EmbeddedStore, directory: Path) -> None:
    async def run() -> None:
        async with embedded_client(store, timeout=600.0) as client:
            # validate=False: the loader's own tests cover validation; this keeps the
            # fixture load to seconds on a 2-core machine.
            report = await load_paths(client, [directory], validate=False)
        if report.failures:
            raise RuntimeError(f"loading {directory} failed: {report.failures}")

    asyncio.run(run())


def load_dataset(name: str) -> Dataset:
    """Load a dataset with the project's loader into a fresh in-memory embedded store.

    The expected answers come from the same files parsed here independently (with
    ``urn:uuid:`` references rewritten to ``Type/id`` as the loader stores them).
    """
    directory = dataset_directory(name)
    store = EmbeddedStore(":memory:")
    _load_into(store, directory)
    patients: list[PatientRecord] = []
    shared: dict[str, Resource] = {}
    for path in sorted(directory.glob("*.json")):
        if path.name.startswith(_REFERENCE_DATA):
            continue
        resources = _bundle_resources(path)
        patient = next(r for r in resources if r["resourceType"] == "Patient")
        record = PatientRecord(patient)
        for resource in resources:
            kind = resource["resourceType"]
            record.by_type[kind].append(resource)
            if kind == "Medication":
                shared[f"Medication/{resource['id']}"] = resource
        patients.append(record)
    return Dataset(name, store, patients, shared)
