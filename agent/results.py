"""Tool results in and out of checkpointed state, and the thread's citation aliases.

A :class:`tools.ToolResult` holds dataclasses and the raw FHIR resources; state holds
JSON.  ``result_to_json`` keeps what rendering and the extractive answer need (lines,
labels, values, dates, references) and drops the raw resources, which are bulky and
already in the FHIR store.  ``thread_aliases`` reads the stable ``[n]`` aliases from the
ordered reference list kept in state, so alias 3 means the same resource on every turn
of a thread.

Several nodes of a turn read the same results and aliases (the planner's summary, the
answer prompt, the extractive answer, the verifier).  Each view is derived once: a
small memo keyed by the state object it comes from (a step's result dict, the alias
list), which LangGraph hands from node to node unchanged within a run.  The memo holds
its source, so an id is never reused while its entry lives; the sources are never
changed in place (reducers make new lists), and the views are read-only, so a hit is
always what deriving again would give.  A miss (a run resumed from a checkpoint) only
derives again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from fhir_client.limits import DERIVED_VIEWS_REMEMBERED
from tools.evidence import Evidence, EvidenceSeries, Item, ReferenceAliases, ToolResult

__all__ = [
    "ThreadAliases",
    "decode_result",
    "derived_counts",
    "result_from_json",
    "result_to_json",
    "thread_aliases",
]

Source = TypeVar("Source")
View = TypeVar("View")


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


def decode_result(data: dict[str, Any]) -> ToolResult:
    """A step's result as the tool returned it (without the raw FHIR); see ``result_from_json``."""
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


class _Memo(Generic[Source, View]):
    """Views derived from state objects, keyed by the object itself (see the module doc)."""

    def __init__(self, derive: Callable[[Source], View], size: int) -> None:
        self._derive = derive
        self._size = size
        self._entries: OrderedDict[int, tuple[Source, View]] = OrderedDict()
        self._lock = threading.Lock()  # concurrent turns (API workers' threads) share it
        self.derived = 0
        """How many views were derived (not found): what the bench and tests count."""

    def __call__(self, source: Source) -> View:
        key = id(source)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] is source:
                self._entries.move_to_end(key)
                return entry[1]
        view = self._derive(source)
        with self._lock:
            self.derived += 1
            self._entries[key] = (source, view)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return view


class ThreadAliases(ReferenceAliases):
    """The thread's citation aliases, read-only: ``[n]`` is ``references[n - 1]``.

    Read-only because one map serves every node of a turn: a reference outside the
    thread's list gets no alias (it is cited in full, and the verifier will not find it
    retrieved), rather than a number that one node made up and another does not know.
    ``resolve`` is :class:`tools.evidence.ReferenceAliases`'s own.
    """

    def __init__(self, references: Sequence[str]) -> None:
        super().__init__()
        for reference in references:
            super().cite(reference)  # numbers them 1, 2, ... in order; repeats keep theirs

    def cite(self, reference: str) -> str:
        return self._by_reference.get(reference, reference)


_decoded: _Memo[dict[str, Any], ToolResult] = _Memo(decode_result, DERIVED_VIEWS_REMEMBERED)
_aliases: _Memo[Sequence[str], ThreadAliases] = _Memo(ThreadAliases, DERIVED_VIEWS_REMEMBERED)


def result_from_json(data: dict[str, Any]) -> ToolResult:
    """A step's result decoded from state, once per result object (see the module doc)."""
    return _decoded(data)


def thread_aliases(references: Sequence[str]) -> ThreadAliases:
    """Aliases in the order first seen in the thread: ``references[0]`` is ``[1]``; one
    map per alias list (see the module doc)."""
    return _aliases(references)


def derived_counts() -> dict[str, int]:
    """How many results this process decoded and alias maps it built (bench, tests)."""
    return {"decoded_results": _decoded.derived, "alias_maps": _aliases.derived}
