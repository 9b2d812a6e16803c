"""The CapabilityStatement, generated from the search registry.

Generating it (rather than hand-writing it) means `GET /metadata` can never
advertise a parameter the store would reject, nor hide one it supports.
"""

from __future__ import annotations

from typing import Any

from fhir_client.embedded.query import DEFAULT_COUNT, MAX_COUNT
from fhir_client.embedded.registry import REGISTRY, ParamKind


def capability_statement(base_url: str) -> dict[str, Any]:
    """A FHIR R4 CapabilityStatement describing the embedded facade."""
    resources = []
    for rtype in sorted(REGISTRY):
        params = [
            {"name": "_id", "type": "token"},
            {"name": "_lastUpdated", "type": "date"},
            *(
                {"name": p.name, "type": str(p.kind), "documentation": p.expression}
                for p in REGISTRY[rtype].values()
            ),
        ]
        sorts = ["_id", "_lastUpdated"] + [
            p.name for p in REGISTRY[rtype].values() if p.kind is ParamKind.DATE
        ]
        entry: dict[str, Any] = {
            "type": rtype,
            "interaction": [{"code": code} for code in ("read", "search-type", "update", "delete")],
            "versioning": "versioned-update",
            "updateCreate": True,
            "searchParam": params,
            "extension": [
                {
                    "url": "http://ehr-agent.local/fhir/StructureDefinition/sort-params",
                    "valueString": ",".join(sorts),
                }
            ],
        }
        if rtype == "Patient":
            entry["operation"] = [
                {
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                }
            ]
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2025-01-01",
        "kind": "instance",
        "software": {"name": "ehr-agent embedded FHIR store"},
        "implementation": {"description": "SQLite-backed FHIR R4 facade", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    f"_count defaults to {DEFAULT_COUNT} and is capped at {MAX_COUNT}. "
                    "Modifiers: token :missing :not; reference :missing :[type]; "
                    "date :missing; string :missing :exact :contains. Date prefixes: "
                    "eq ne lt le gt ge sa eb. Unsupported parameters get a 400."
                ),
                "resource": resources,
                "interaction": [{"code": "transaction"}, {"code": "batch"}],
            }
        ],
    }
