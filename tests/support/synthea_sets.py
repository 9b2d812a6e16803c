"""Helpers for the embedded-store tests: turn genuine Synthea bundles into stored resources.

The real loader (fhir_client.loading) is tested elsewhere; these tests need an
independent, obviously-correct path from bundle JSON to resources, so that
expected search results can be computed from the same JSON without going
through any code under test. Holds no tests itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Resource = dict[str, Any]


@dataclass
class SyntheaSet:
    """Resources of a Synthea directory with references rewritten to `Type/id`."""

    shared: list[Resource] = field(default_factory=list)  # hospital + practitioner bundles
    patients: dict[str, list[Resource]] = field(default_factory=dict)  # patient id -> resources

    def all_resources(self) -> list[Resource]:
        return [*self.shared, *(r for rs in self.patients.values() for r in rs)]


def _rewrite(node: Any, targets: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                out[key] = targets.get(value, value)
            else:
                out[key] = _rewrite(value, targets)
        return out
    if isinstance(node, list):
        return [_rewrite(item, targets) for item in node]
    return node


def _identifier_targets(resources: list[Resource]) -> dict[str, str]:
    targets = {}
    for resource in resources:
        for ident in resource.get("identifier", []):
            key = (
                f"{resource['resourceType']}?identifier={ident.get('system')}|{ident.get('value')}"
            )
            targets[key] = f"{resource['resourceType']}/{resource['id']}"
    return targets


def load_synthea_dir(directory: Path) -> SyntheaSet:
    """Read every bundle in `directory`; shared (hospital/practitioner) files first."""
    files = sorted(directory.glob("*.json"))
    shared_files = [f for f in files if f.name.startswith(("hospital", "practitioner"))]
    patient_files = [f for f in files if f not in shared_files]
    result = SyntheaSet()
    for path in shared_files:
        bundle = json.loads(path.read_text())
        result.shared.extend(entry["resource"] for entry in bundle["entry"])
    conditional = _identifier_targets(result.shared)
    for path in patient_files:
        bundle = json.loads(path.read_text())
        targets = dict(conditional)
        for entry in bundle["entry"]:
            resource = entry["resource"]
            targets[entry["fullUrl"]] = f"{resource['resourceType']}/{resource['id']}"
        resources = [_rewrite(entry["resource"], targets) for entry in bundle["entry"]]
        patient = next(r for r in resources if r["resourceType"] == "Patient")
        result.patients[patient["id"]] = resources
    return result


def transaction_of(resources: list[Resource], kind: str = "transaction") -> Resource:
    """A transaction/batch Bundle of `PUT Type/id` entries, as the loader sends."""
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {
                "resource": r,
                "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
            }
            for r in resources
        ],
    }
