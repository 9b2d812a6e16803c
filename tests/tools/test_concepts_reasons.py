"""A reason held only as a ``reasonReference`` (no display) is indexed by the Condition's text.

Synthea writes a display on every reference; other systems often do not.  The record's
own Condition says why, so "meds for hypertension" still finds the order.  Real fixture
resources, with the displays removed as such a server would send them.
"""

from __future__ import annotations

import copy
from pathlib import Path

from tests.support.tools_datasets import _bundle_resources
from tools.concepts import PatientRecord, build_index
from tools.vocabulary import normalize_name

FIXTURES = Path(__file__).resolve().parents[2] / "synthea_fixtures" / "fhir"


def test_reason_references_without_display_are_indexed_by_the_condition_text() -> None:
    checked = 0
    for path in sorted(FIXTURES.glob("*.json"))[:6]:
        if path.name.startswith(("hospital", "practitioner")):
            continue
        resources = _bundle_resources(path)
        patient = next(r for r in resources if r["resourceType"] == "Patient")
        stripped = []
        for resource in resources:
            resource = copy.deepcopy(resource)
            for item in resource.get("reasonReference") or []:
                item.pop("display", None)
            resource.pop("reasonCode", None)
            stripped.append(resource)
        record = PatientRecord(patient["id"], [r for r in stripped if r is not patient])
        index = build_index(record)
        reasons = {
            (e.family, normalize_name(e.name)): set(e.references)
            for e in index.entries
            if e.role == "reason"
        }
        for resource in stripped:
            if resource["resourceType"] not in ("MedicationRequest", "Encounter"):
                continue
            for item in resource.get("reasonReference") or []:
                condition = record.resolve(item.get("reference"))
                if condition is None:
                    continue
                family = "medications" if resource["resourceType"] != "Encounter" else "encounters"
                name = normalize_name(condition["code"]["coding"][0]["display"])
                keys = [k for k in reasons if k[0] == family and (k[1] in name or name in k[1])]
                owner = f"{resource['resourceType']}/{resource['id']}"
                assert any(owner in reasons[k] for k in keys), (owner, name)
                checked += 1
    assert checked > 0
