"""Tools over the patient's whole record: concepts, record-wide search, visits.

``PatientToolset`` inherits these.  They share one ``PatientRecord`` read from
``Patient/$everything`` once per toolset (``record()``), and the concept index built from
it, so resolving a concept or searching the record costs one read per conversation, the
same on the embedded store and on a remote server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from pydantic import Field

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
from tools.concepts.search import RecordSearch
from tools.declare import DateText, ListLimit, Name, Phrasing, SeriesLimit, ToolName, tool
from tools.dental import visit_kind_rule
from tools.evidence import Evidence, ToolResult
from tools.fhir_text import reference_of, resource_date
from tools.formatting import format_resource
from tools.matching import check_date, first_day, last_day
from tools.scope import PatientScope
from tools.visits import (
    attached_to,
    encounter_reasons,
    is_lab_result,
    passed_note,
    passed_over,
    pick_encounter,
    reason_line,
    visits_with_labs,
    why_line,
)

__all__ = ["RecordState", "RecordTools", "in_period", "new_record_state"]

Resource = dict[str, Any]
_WHY_TYPES = frozenset({"MedicationRequest", "Procedure", "CarePlan"})


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


RecordState = dict[str, Any]
"""One read of a patient's record and what is built from it: ``record``, ``index``,
``search`` (None until first needed) and the ``lock`` that makes the read happen once;
a cache that keeps the state adds ``sized``, called with the record once it is read."""


def new_record_state() -> RecordState:
    """An empty :data:`RecordState`; a toolset fills it on first need."""
    return {"lock": asyncio.Lock(), "record": None, "index": None, "search": None}


class RecordTools:
    """Concept resolution, record-wide search and visit views (mixed into the toolset).

    The record state is the toolset's own unless ``share_record`` hands it one kept by
    the caller across toolsets (the Assistant keeps it across questions, keyed by the
    patient and the record's version, the store's or a remote server's: see
    ``agent.record_cache``).
    """

    scope: PatientScope

    def share_record(self, state: RecordState) -> None:
        """Use ``state`` (this patient's, read at the current record version) as the cache."""
        self._record_cache = state

    def share_record_from(self, source: Callable[[], Awaitable[RecordState]]) -> None:
        """Ask ``source`` for the shared state when the record is first needed: for a
        host whose loop may not block, the record version is taken off the loop then."""
        self._record_source = source

    async def _record_state(self) -> RecordState:
        state: RecordState | None = getattr(self, "_record_cache", None)
        if state is None:
            source = getattr(self, "_record_source", None)
            state = await source() if source is not None else new_record_state()
            self._record_cache = state
        return state

    async def record(self) -> PatientRecord:
        """The patient's whole record, read once per toolset (bounded; see limits)."""
        state = await self._record_state()
        async with state["lock"]:
            if state["record"] is None:
                state["record"] = await load_record(self.scope)
                sized = state.get("sized")
                if sized is not None:  # a cache keeping the state sizes it (off the loop)
                    await asyncio.to_thread(sized, state["record"])
        record: PatientRecord = state["record"]
        return record

    async def record_index(self) -> RecordIndex:
        """The index of every coded name in the record (built once per toolset)."""
        record = await self.record()
        state = await self._record_state()
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

    async def record_search(self) -> RecordSearch:
        """The record's full-text index (built once per toolset, off the event loop)."""
        record = await self.record()
        state = await self._record_state()
        async with state["lock"]:
            if state["search"] is None:
                state["search"] = await asyncio.to_thread(RecordSearch, record)
        search: RecordSearch = state["search"]
        return search

    @tool(noun="records", kind="text", record_wide=True)
    async def search_record(
        self,
        name: Annotated[str, Field(min_length=1, max_length=120)],
        since: DateText | None = None,
        until: DateText | None = None,
        limit: SeriesLimit = 20,
    ) -> ToolResult:
        """Last resort: rank every resource of the record by its text (codes, values,
        notes) for the words in name, best first, grouped by resource type. Use when no
        other tool fits ("what does the record say about X"). since/until: YYYY[-MM[-DD]]."""
        since, until = check_date(since, "since"), check_date(until, "until")
        search = await self.record_search()
        record = await self.record()
        hits, total, every_word = await asyncio.to_thread(
            search.search,
            name,
            since=first_day(since) if since else None,
            until=last_day(until) if until else None,
        )
        # Best rank first, newest first among equals (Synthea repeats identical texts),
        # then grouped by type in the order of each type's best hit.
        ordered = sorted(hits, key=lambda h: (h.rank, _negated(h.date)))[:limit]
        best: dict[str, float] = {}
        for hit in ordered:
            best.setdefault(hit.resource_type, hit.rank)
        shown = sorted(ordered, key=lambda h: best[h.resource_type])
        items: list[Evidence] = []
        for hit in shown:
            resource = record.resolve(hit.reference)
            if resource is None:
                continue
            line = self._line(resource, record)
            if hit.resource_type in ("DocumentReference", "DiagnosticReport") and hit.snippet:
                line = Evidence(
                    reference=line.reference,
                    text=f'{line.text}: "{hit.snippet}"',
                    date=line.date,
                    kind=line.kind,
                    label=line.label,
                    value=hit.snippet,
                    resource=resource,
                )
            items.append(line)
        counts: dict[str, int] = {}
        for hit in hits:
            counts[hit.resource_type] = counts.get(hit.resource_type, 0) + 1
        grouped = ", ".join(f"{n} {kind}" for kind, n in counts.items())
        notes: tuple[str, ...] = ()
        if not items:
            window = (
                f" between {since or 'the start'} and {until or 'now'}" if since or until else ""
            )
            notes = (
                f"No text in the record's {search.indexed} searchable resources{window} "
                f"contains any of the words of '{name}' (names, values and notes were "
                "searched).",
            )
        how = "" if every_word or not items else " (no resource has every word; any word)"
        return ToolResult(
            tool=_checked("search_record"),
            summary=f"Record search '{name}'{how}{': ' + grouped if grouped else ''}: "
            f"{len(items)} item(s)",
            items=tuple(items),
            truncated=total > len(items),
            total_available=total,
            notes=notes,
        )

    @tool(noun="items")
    async def visit(
        self,
        which: Literal["last", "first"] = "last",
        encounter_type: Name | None = None,
        since: DateText | None = None,
        until: DateText | None = None,
        limit: ListLimit = 60,
        holding: Literal["anything", "labs"] = "anything",
    ) -> ToolResult:
        """What happened at one visit and why: the last (or first) encounter in the
        period, optionally of a type ("emergency", "inpatient", "wellness"), its reasons,
        and everything recorded at it: diagnoses, results, procedures, orders, vaccines,
        reports, notes. since/until: YYYY[-MM[-DD]]; since=until=a day picks that day.
        holding="labs": the last (or first) visit with lab results, and only those."""
        since, until = check_date(since, "since"), check_date(until, "until")
        record = await self.record()
        encounters = [
            e for e in record.of("Encounter") if in_period(resource_date(e), since, until)
        ]
        what = f"{which} visit{' (' + encounter_type + ')' if encounter_type else ''}"
        unknown_type = False
        if encounter_type:
            resolution = await self.resolve_concept(encounter_type, ("encounters",))
            unknown_type = resolution.status == "not_understood"
            wanted = set(resolution.references)
            encounters = [
                e
                for e in encounters
                if (ruled := visit_kind_rule(encounter_type, e)) is True
                or (ruled is None and f"Encounter/{e.get('id')}" in wanted)
            ]
            unknown_type = unknown_type and not encounters
        every = encounters
        if holding == "labs":
            held = visits_with_labs(record)
            encounters = [e for e in encounters if str(e.get("id")) in held]
            what = f"{what} with lab results"
        encounter = pick_encounter(encounters, which)
        if encounter is None and every and holding == "labs":
            newest = pick_encounter(every, which)
            note = f"None of the {len(every)} visits in the record has a lab result."
            return ToolResult(
                tool=_checked("visit"),
                summary=f"Visit: {what}: 1 item(s)",
                items=(self._line(newest, record),) if newest else (),
                notes=(note,),
            )
        if encounter is None:
            window = (
                f" between {since or 'the start'} and {until or 'now'}" if since or until else ""
            )
            total = record.count("Encounter")
            note = f"No matching visit{window} among the record's {total} encounters."
            if unknown_type:
                note = (
                    f"'{encounter_type}' is not a kind of visit this record or the "
                    "vocabularies know; try emergency, inpatient, ambulatory or wellness."
                )
            return ToolResult(
                tool=_checked("visit"), summary=f"Visit: {what}: 0 item(s)", notes=(note,)
            )
        head = self._line(encounter, record)
        texts, reason_conditions = encounter_reasons(encounter, record)
        items: list[Evidence] = [head]
        if texts:
            items.append(reason_line(head, texts))
        items.extend(self._line(c, record) for c in reason_conditions)
        passed = passed_over(encounter, every, encounters, which)
        if passed:  # the newest visit without lab results, so "last visit" is not hidden
            items.append(self._line(pick_encounter(passed, which) or passed[0], record))
        kept = attached_to(encounter, record)
        if holding == "labs":
            kept = [r for r in kept if is_lab_result(r)]
        attached = [self._line(r, record) for r in kept]
        known = {e.reference for e in items}
        attached = [e for e in attached if e.reference not in known]
        counts: dict[str, int] = {}
        for line in attached:
            counts[line.kind] = counts.get(line.kind, 0) + 1
        shown = attached[: max(0, limit - len(items))]
        contents = ", ".join(f"{n} {kind}" for kind, n in counts.items()) or "nothing attached"
        return ToolResult(
            tool=_checked("visit"),
            summary=f"Visit: {what}, {head.date or 'undated'} ({contents}): "
            f"{len(items) + len(shown)} item(s)",
            items=tuple(items + shown),
            truncated=len(shown) < len(attached),
            total_available=len(items) + len(attached),
            notes=(
                *passed_note(passed, which),
                *(() if texts or reason_conditions else ("The visit records no reason.",)),
            ),
        )

    def _line(self, resource: Resource, record: PatientRecord) -> Evidence:
        medication = record.resolve(reference_of(resource.get("medicationReference")))
        return format_resource(resource, medication=medication)

    @tool(
        noun="matching records",
        kind="concept",
        record_wide=True,
        phrasing=Phrasing(listed="matching records", counts=True),
    )
    async def find_concept(
        self,
        name: Name,
        since: DateText | None = None,
        until: DateText | None = None,
        limit: ListLimit = 30,
    ) -> ToolResult:
        """Everything in the record about a clinical concept (name), in any family: classes
        ("blood thinners", "statins"), brand names ("Plavix"), lab panels ("kidney
        function"), abbreviations ("BP", "ER", "TB"), lay words ("sugar", "water pill").
        Newest first within each family; says what was searched when nothing matches.
        since/until: YYYY[-MM[-DD]]."""
        since, until = check_date(since, "since"), check_date(until, "until")
        resolution = await self.resolve_concept(name)
        record = await self.record()
        by_family: dict[str, list[Resource]] = {}
        for match in resolution.matches:
            for reference in match.references:
                resource = record.resolve(reference)
                if resource is not None and in_period(resource_date(resource), since, until):
                    by_family.setdefault(match.family, []).append(resource)
        lines: list[Evidence] = []
        reasons: dict[str, Evidence] = {}
        for family in FAMILIES:
            found = {f"{r['resourceType']}/{r['id']}": r for r in by_family.get(family, [])}
            ordered = sorted(found.values(), key=lambda r: resource_date(r) or "", reverse=True)
            for resource in ordered:
                line = self._line(resource, record)
                lines.append(line)
                # Why: an order's or procedure's stated reason, once per distinct name.
                if resource.get("resourceType") in _WHY_TYPES:
                    why = why_line(line, resource, record)
                    if why is not None:
                        reasons.setdefault(why.text.split(" ", 1)[-1], why)
        # Reasons first: few (one per distinct order name) and what "why" asks for.
        lines = [*reasons.values(), *lines]
        unique: list[Evidence] = []
        seen: set[tuple[str, str]] = set()
        for line in lines:  # a resource matched through two names is listed once
            if (line.reference, line.text) not in seen:
                seen.add((line.reference, line.text))
                unique.append(line)
        notes = list(resolution.notes)
        if not unique:
            notes.append(_nothing_note(resolution, since, until))
        families = ", ".join(resolution.families) or "none"
        return ToolResult(
            tool=_checked("find_concept"),
            summary=(
                f"Concept '{resolution.label}' ({resolution.status}; families: {families}): "
                f"{min(len(unique), limit)} item(s)"
            ),
            items=tuple(unique[:limit]),
            truncated=len(unique) > limit,
            total_available=len(unique),
            notes=tuple(notes),
        )


def _checked(name: ToolName) -> ToolName:
    """A tool's own name in its result, spelled so the type checker checks it."""
    return name


def _negated(day: str | None) -> tuple[int, ...]:
    """A sort key that puts later days first."""
    return tuple(-ord(c) for c in day or "")


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
