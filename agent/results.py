"""Tool results in and out of checkpointed state, and the thread's citation aliases.

A :class:`tools.ToolResult` holds dataclasses and the raw FHIR resources; state holds
JSON.  ``result_to_json`` keeps what rendering and the extractive answer need (lines,
labels, values, dates, references) and drops the raw resources, which are bulky and
already in the FHIR store.  ``thread_aliases`` rebuilds the stable ``[n]`` aliases from
the ordered reference list kept in state, so alias 3 means the same resource on every
turn of a thread.
"""

from __future__ import annotations

from typing import Any

from tools.evidence import Evidence, EvidenceSeries, Item, ReferenceAliases, ToolResult

__all__ = ["result_from_json", "result_to_json", "thread_aliases"]


def _evidence_json(item: Evidence) -> dict[str, Any]:
    return {
        "reference": item.reference,
        "text": item.text,
        "date": item.date,
        "kind": item.kind,
        "label": item.label,
        "value": item.value,
    }


def _evidence(data: dict[str, Any]) -> Evidence:
    return Evidence(
        reference=data["reference"],
        text=data["text"],
        date=data.get("date"),
        kind=data.get("kind", ""),
        label=data.get("label", ""),
        value=data.get("value", ""),
    )


def result_to_json(result: ToolResult) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    for item in result.items:
        if isinstance(item, EvidenceSeries):
            items.append(
                {
                    "series": item.label,
                    "unit": item.unit,
                    "points": [_evidence_json(p) for p in item.points],
                }
            )
        else:
            items.append(_evidence_json(item))
    return {
        "tool": result.tool,
        "summary": result.summary,
        "items": items,
        "truncated": result.truncated,
        "total_available": result.total_available,
        "notes": list(result.notes),
    }


def result_from_json(data: dict[str, Any]) -> ToolResult:
    items: list[Item] = []
    for item in data.get("items", []):
        if "series" in item:
            points = tuple(_evidence(p) for p in item["points"])
            items.append(EvidenceSeries(label=item["series"], points=points, unit=item["unit"]))
        else:
            items.append(_evidence(item))
    return ToolResult(
        tool=data["tool"],
        summary=data["summary"],
        items=tuple(items),
        truncated=bool(data.get("truncated")),
        total_available=data.get("total_available"),
        notes=tuple(data.get("notes", [])),
    )


def thread_aliases(references: list[str]) -> ReferenceAliases:
    """Aliases in the order first seen in the thread: ``references[0]`` is ``[1]``."""
    aliases = ReferenceAliases()
    for reference in references:
        aliases.cite(reference)
    return aliases
