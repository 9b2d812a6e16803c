"""The CapabilityStatement, generated from the search registry.

Generating it (rather than hand-writing it) means `GET /metadata` can never
advertise a parameter the store would reject, nor hide one it supports.
"""

from __future__ import annotations

from typing import Any

from fhir_client.embedded.query import DEFAULT_COUNT, MAX_COUNT
from fhir_client.embedded.registry import REGISTRY, ParamKind
from fhir_client.limits import MAX_INCLUDE_ROUNDS, MAX_INCLUDED_PER_PAGE

_READ_INTERACTIONS = ("read", "vread", "search-type", "history-instance", "history-type")
_WRITE_INTERACTIONS = ("update", "delete")


def _reference_params(rtype: str) -> list[str]:
    return [p.name for p in REGISTRY[rtype].values() if p.kind is ParamKind.REFERENCE]


def _revincludes(target: str) -> list[str]:
    """``Source:param`` pairs whose references can point at ``target``."""
    return [
        f"{source}:{p.name}"
        for source in sorted(REGISTRY)
        for p in REGISTRY[source].values()
        if p.kind is ParamKind.REFERENCE and (not p.targets or target in p.targets)
    ]


def capability_statement(base_url: str, *, writable: bool = True) -> dict[str, Any]:
    """A FHIR R4 CapabilityStatement describing the embedded facade.

    ``writable=False`` describes the read-only server: no update, delete, transaction
    or batch is listed because none is served.
    """
    interactions = _READ_INTERACTIONS + (_WRITE_INTERACTIONS if writable else ())
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
            "interaction": [{"code": code} for code in interactions],
            "versioning": "versioned-update" if writable else "versioned",
            "readHistory": False,
            "conditionalRead": "full-support",
            "searchInclude": ["*", *(f"{rtype}:{name}" for name in _reference_params(rtype))],
            "searchRevInclude": ["*", *_revincludes(rtype)],
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
        if writable:
            entry["updateCreate"] = True
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
                    "eq ne lt le gt ge sa eb. Result parameters: _sort, "
                    "_summary=true|text|data|count|false (on search and read; R4 isSummary "
                    "flags from fhir.resources' R4B models; not with _elements), _total, "
                    "_elements (top-level names only, as R4 defines it: a nested path is a "
                    "400), _include and _revinclude "
                    "(Type:param, Type:param:Target, *; each also :iterate, at most "
                    f"{MAX_INCLUDE_ROUNDS} rounds), at most {MAX_INCLUDED_PER_PAGE} included "
                    "resources a page. One version per resource is kept: vread and instance, "
                    "type and system _history serve it (newest first; _count, _offset, "
                    f"_since; at most {MAX_COUNT} a page; no _at). FHIR JSON only: other "
                    "formats get a 406. Unsupported parameters get a 400."
                ),
                "resource": resources,
                "interaction": [
                    {"code": "history-system"},
                    *([{"code": "transaction"}, {"code": "batch"}] if writable else []),
                ],
            }
        ],
    }
