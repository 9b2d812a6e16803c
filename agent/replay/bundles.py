"""Patient records read straight from Synthea bundle files, for a referee that shares
nothing with the server the agent reads.

``urn:uuid:`` references are rewritten to ``Type/id``, as a FHIR server stores them
after a transaction, so the references the ground truth expects are the ones the agent
cites.  Hospital and practitioner bundles hold no patient and are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.replay.record import PatientRecord, Resource

__all__ = ["records_from_bundles"]


def _rewrite(node: Any, targets: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {key: _rewrite(value, targets) for key, value in node.items()}
        target = out.get("reference")
        if isinstance(target, str) and target in targets:
            out["reference"] = targets[target]
        return out
    if isinstance(node, list):
        return [_rewrite(item, targets) for item in node]
    return node


def _resources(path: Path) -> list[Resource]:
    bundle = json.loads(path.read_bytes())
    entries = [e for e in bundle.get("entry") or [] if isinstance(e.get("resource"), dict)]
    targets = {
        str(e["fullUrl"]): f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in entries
        if isinstance(e.get("fullUrl"), str) and "id" in e["resource"]
    }
    return [_rewrite(e["resource"], targets) for e in entries]


def records_from_bundles(directory: Path) -> list[PatientRecord]:
    """One record per patient bundle in ``directory`` (sorted by file name)."""
    records: list[PatientRecord] = []
    for path in sorted(directory.glob("*.json")):
        resources = _resources(path)
        if not any(r.get("resourceType") == "Patient" for r in resources):
            continue
        records.append(PatientRecord.from_resources(resources))
    return records
