"""Tools over the patient's whole record: concepts, record-wide search, visits.

``PatientToolset`` inherits these.  They share one ``PatientRecord`` read from
``Patient/$everything`` once per toolset (``record()``), and the concept index built from
it, so resolving a concept or searching the record costs one read per conversation, the
same on the embedded store and on a remote server.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tools.concepts import (
    FAMILIES,
    ConceptResolution,
    Family,
    PatientRecord,
    RecordIndex,
    build_index,
    load_record,
    resolve,
)
from tools.evidence import Evidence, ToolResult
from tools.fhir_text import reference_of, resource_date
from tools.formatting import format_resource
from tools.matching import check_date, first_day, last_day
from tools.scope import PatientScope

__all__ = ["RecordTools", "in_period"]

Resource = dict[str, Any]


def in_period(when: str | None, since: str | None, until: str | None) -> bool:
    """True when the day ``when`` (``YYYY-MM-DD``) lies in the inclusive window.

    Undated resources are kept only when there is no window (a window cannot vouch for
    them).
    """
    if not since and not until:
        return True
    if not when:
        return False
    if since and when[:10] < first_day(since):
        return False
    return not (until and when[:10] > last_day(until))


class RecordTools:
    """Concept resolution, record-wide search and visit views (mixed into the toolset)."""

    scope: PatientScope

    def _record_state(self) -> dict[str, Any]:
        state: dict[str, Any] | None = getattr(self, "_record_cache", None)
        if state is None:
            state = {"lock": asyncio.Lock(), "record": None, "index": None}
            self._record_cache = state
        return state

    async def record(self) -> PatientRecord:
        """The patient's whole record, read once per toolset (bounded; see limits)."""
        state = self._record_state()
        async with state["lock"]:
            if state["record"] is None:
                state["record"] = await load_record(self.scope)
        record: PatientRecord = state["record"]
        return record

    async def record_index(self) -> RecordIndex:
        """The index of every coded name in the record (built once per toolset)."""
        record = await self.record()
        state = self._record_state()
        if state["index"] is None:
            state["index"] = build_index(record)
        index: RecordIndex = state["index"]
        return index

    async def resolve_concept(
        self, text: str, families: tuple[Family, ...] = ()
    ) -> ConceptResolution:
        """What ``text`` ("blood thinners", "kidney function", "plavix") means in this
        record: matches by family, what was searched, and found / none_found /
        not_understood.  Not a model tool: the planner calls it to pick tools and
        arguments, and answers use ``absence()`` for honest statements of absence."""
        return resolve(text, await self.record_index(), families=families)

    def _line(self, resource: Resource, record: PatientRecord) -> Evidence:
        medication = record.resolve(reference_of(resource.get("medicationReference")))
        return format_resource(resource, medication=medication)

    async def find_concept(
        self,
        concept: str,
        since: str | None = None,
        until: str | None = None,
        limit: int = 30,
    ) -> ToolResult:
        """Everything in the record about a clinical concept, in any family: drug classes
        ("blood thinners", "statins"), brand names ("Plavix"), lab panels ("kidney
        function"), abbreviations ("BP", "ER", "TB"), lay words ("sugar", "water pill").
        Newest first within each family; says what was searched when nothing matches.
        since/until: YYYY[-MM[-DD]]."""
        since, until = check_date(since, "since"), check_date(until, "until")
        resolution = await self.resolve_concept(concept)
        record = await self.record()
        by_family: dict[str, list[Resource]] = {}
        for match in resolution.matches:
            for reference in match.references:
                resource = record.resolve(reference)
                if resource is not None and in_period(resource_date(resource), since, until):
                    by_family.setdefault(match.family, []).append(resource)
        lines: list[Evidence] = []
        for family in FAMILIES:
            found = {f"{r['resourceType']}/{r['id']}": r for r in by_family.get(family, [])}
            ordered = sorted(found.values(), key=lambda r: resource_date(r) or "", reverse=True)
            lines.extend(self._line(r, record) for r in ordered)
        unique: list[Evidence] = []
        seen: set[str] = set()
        for line in lines:
            if line.reference not in seen:
                seen.add(line.reference)
                unique.append(line)
        notes = list(resolution.notes)
        if not unique:
            notes.append(_nothing_note(resolution, since, until))
        families = ", ".join(resolution.families) or "none"
        return ToolResult(
            tool="find_concept",
            summary=(
                f"Concept '{resolution.label}' ({resolution.status}; families: {families}): "
                f"{min(len(unique), limit)} item(s)"
            ),
            items=tuple(unique[:limit]),
            truncated=len(unique) > limit,
            total_available=len(unique),
            notes=tuple(notes),
        )


def _nothing_note(resolution: ConceptResolution, since: str | None, until: str | None) -> str:
    window = f" between {since or 'the start'} and {until or 'now'}" if since or until else ""
    if resolution.status == "found":
        return f"'{resolution.label}' is in the record, but not{window}."
    absence = resolution.absence()
    if absence is not None:
        return absence if not window else f"{absence[:-1]}{window}."
    return (
        f"'{resolution.query}' is not a concept the vocabularies or this record's coded "
        "entries know; nothing can be said about its absence (try search_record)."
    )
