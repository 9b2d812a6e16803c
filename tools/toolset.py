"""The tools: typed async functions over one patient's FHIR record.

A ``PatientToolset`` is created for one patient (``make_toolset(client, patient_id)``);
each public coroutine is a tool whose docstring is the description the model reads and
whose arguments are clinical only.  The patient never appears in a tool's arguments, and
every request goes through ``PatientScope`` (see ``tools.scope``).

Every tool is bounded by default (most recent N, optional date window) so a record with
thousands of resources cannot flood a 4B model's context; "latest"/"first" reach the whole
history through sorted one-result searches.  Results say when more exist (``truncated``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from tools.chart_tools import ChartTools
from tools.clinician_tools import ClinicianTools
from tools.concepts.vocabularies import vocabularies
from tools.coverage import CoverageTools
from tools.declare import (
    DateText,
    ListLimit,
    Name,
    NoteLimit,
    Phrasing,
    SeriesLimit,
    Threshold,
    tool,
)
from tools.dental import visit_kind_rule
from tools.evidence import Evidence, ToolResult
from tools.flag_tools import ResultFlagTools
from tools.formatting import format_resource
from tools.matching import (
    concept_matches,
    date_params,
    text_matches,
)
from tools.notes import search_notes
from tools.observations import Mode, find_observations
from tools.scope import FhirSearchClient
from tools.surgical import looks_surgical, surgical_note
from tools.toolset_base import (
    _ENCOUNTER_CLASS_NAMES,
    Resource,
    _in_window,
    _window_words,
)
from tools.vocabulary import find_observation_concept, normalize_name

__all__ = ["PatientToolset", "VitalChoice", "VitalName", "make_toolset"]

#: The vital signs a clinician names (``tools.vocabulary``'s vital concepts; a unit test
#: checks the two agree).  A direct caller may use any name the vocabulary knows ("BMI",
#: "BP", "pulse"): it is read as the canonical one before the choice is checked.
VitalChoice = Literal[
    "blood pressure",
    "bmi",
    "weight",
    "height",
    "heart rate",
    "respiratory rate",
    "temperature",
    "oxygen saturation",
    "pain",
]


def _canonical_vital(value: Any) -> Any:
    concept = find_observation_concept(value) if isinstance(value, str) else None
    return concept.names[0] if concept is not None and concept.kind == "vital" else value


VitalName = Annotated[VitalChoice, BeforeValidator(_canonical_vital)]
Keywords = Annotated[list[Annotated[str, Field(min_length=1, max_length=40)]], Field(max_length=5)]


class PatientToolset(ChartTools, ClinicianTools, CoverageTools, ResultFlagTools):
    """The clinical tools, bound to one patient (see ``tools.toolset_base``).

    ``scan_limit`` bounds the client-side scans used for name filters that FHIR search
    cannot express portably.
    """

    @tool(noun="patients", phrasing=Phrasing(listed="patient details"))
    async def patient_overview(self) -> ToolResult:
        """Demographics of the patient: name, sex, birth date, age, and whether deceased."""
        patient = await self.scope.read_patient()
        if not self.scope.belongs_to_patient(patient):
            raise ValueError("the server returned a different Patient than the one requested")
        return self._result("patient_overview", "Patient overview", [format_resource(patient)])

    @tool(
        noun="results",
        kind="observation",
        topics=("lab", "result", "test"),
        family="lab",
        phrasing=Phrasing(counts=True),
    )
    async def lab_results(
        self,
        name: Name,
        mode: Mode = "latest",
        since: DateText | None = None,
        until: DateText | None = None,
        limit: SeriesLimit = 10,
        above: Threshold | None = None,
        below: Threshold | None = None,
    ) -> ToolResult:
        """Laboratory results by test name or LOINC code, e.g. "HbA1c", "LDL", "eGFR",
        "creatinine", "viral load". mode: latest (default), first, series (the last
        `limit`, oldest to newest), highest or lowest. above/below: only results beyond
        the number (the total counts them). since/until: YYYY[-MM[-DD]]."""
        return await find_observations(
            self.scope,
            name,
            mode=mode,
            since=since,
            until=until,
            limit=limit,
            scan_limit=self.scan_limit,
            tool="lab_results",
            above=above,
            below=below,
        )

    @tool(
        noun="measurements",
        kind="observation",
        topics=("vital", "blood pressure", "weight", "pulse", "result"),  # "No result named X"
        family="vital",
        phrasing=Phrasing(counts=True),
    )
    async def vital_signs(
        self,
        name: VitalName,
        mode: Mode = "latest",
        since: DateText | None = None,
        until: DateText | None = None,
        limit: SeriesLimit = 10,
        above: Threshold | None = None,
        below: Threshold | None = None,
    ) -> ToolResult:
        """Vital signs: "blood pressure", "weight", "height", "BMI", "heart rate",
        "respiratory rate", "temperature", "oxygen saturation", "pain". mode: latest
        (default), first, series, highest or lowest (blood pressure by systolic).
        above/below: only values beyond the number. since/until: YYYY[-MM[-DD]]."""
        return await find_observations(
            self.scope,
            name,
            mode=mode,
            since=since,
            until=until,
            limit=limit,
            scan_limit=self.scan_limit,
            tool="vital_signs",
            above=above,
            below=below,
        )

    @tool(
        noun="encounters",
        kind="event",
        topics=("encounter", "visit"),
        family="encounter",
        phrasing=Phrasing(counts=True, searched="encounters", newest="encounter"),
    )
    async def encounters(
        self,
        encounter_type: Name | None = None,
        since: DateText | None = None,
        until: DateText | None = None,
        limit: ListLimit = 10,
    ) -> ToolResult:
        """Visits (encounters), newest first, with type, class and reason.
        encounter_type: words such as "emergency", "inpatient", "wellness", "follow-up"
        (omit for all). since/until: YYYY[-MM[-DD]] (with a window and a high limit,
        every visit in it: the result's total is the count)."""
        keep: Callable[[Resource], bool] | None = None
        if encounter_type:
            # "wellness" is how a visit kind is asked for, "General examination" and
            # "check up" how Synthea types it: the lay terms' expansions match too.
            lay = vocabularies().phrases.get(normalize_name(encounter_type), ())
            wanted = (encounter_type, *lay)

            def keep(r: Resource) -> bool:
                ruled = visit_kind_rule(encounter_type, r)  # a physical is no dental visit
                if ruled is not None:
                    return ruled
                cls = r.get("class")
                code = cls.get("code") if isinstance(cls, dict) else ""
                texts = [code or "", _ENCOUNTER_CLASS_NAMES.get(str(code), "")]
                return any(
                    text_matches(words, texts)
                    or concept_matches(words, r.get("type"), r.get("reasonCode"))
                    for words in wanted
                )

        resources, truncated, total = await self._windowed("Encounter", (since, until), keep, limit)
        return self._result(
            "encounters",
            f"Encounters ({encounter_type or 'all'})",
            [format_resource(r) for r in resources[:limit]],
            truncated=truncated,
            total=total,
            empty_note=f"No {f'{encounter_type} ' if encounter_type else ''}encounter matches "
            "in this record.",
        )

    @tool(
        noun="procedures",
        kind="event",
        topics=("procedure", "surger", "operation"),
        family="procedure",
        phrasing=Phrasing(counts=True, searched="procedures"),
    )
    async def procedures(
        self,
        name: Name | None = None,
        since: DateText | None = None,
        until: DateText | None = None,
        limit: ListLimit = 10,
        kind: Literal["all", "surgical"] = "all",
    ) -> ToolResult:
        """Procedures performed, newest first, with reason. name: words such as
        "colonoscopy", "echocardiography" (omit for all). kind: "surgical" for only those
        whose name looks like an operation (-ectomy, repair, excision, ...), for
        "surgeries"; a note counts the rest. since/until: YYYY[-MM[-DD]]."""
        named = (lambda r: concept_matches(name, r.get("code"))) if name else None
        surgical = kind == "surgical"
        keep = (named or (lambda r: True)) if surgical else named  # surgical: scan them all
        resources, truncated, total = await self._windowed("Procedure", (since, until), keep, limit)
        notes: tuple[str, ...] = ()
        if surgical:
            operations = [r for r in resources if looks_surgical(r)]
            others = [r for r in resources if not looks_surgical(r)]
            notes = (surgical_note(operations, others, _window_words(since, until)),)
            resources, truncated, total = operations, len(operations) > limit, len(operations)
        what = " ".join(w for w in ("surgical" if surgical else "", name or "") if w) or "all"
        result = self._result(
            "procedures",
            f"Procedures ({what})",
            [format_resource(r) for r in resources[:limit]],
            truncated=truncated,
            total=total,
            empty_note="No matching procedure in this record.",
        )
        return replace(result, notes=notes) if notes else result

    @tool(
        noun="matching notes",
        kind="text",
        topics=("note",),
        phrasing=Phrasing(listed="matching clinical notes", counts=True),
    )
    async def clinical_notes(
        self,
        keywords: Keywords | None = None,
        since: DateText | None = None,
        until: DateText | None = None,
        limit: NoteLimit = 5,
    ) -> ToolResult:
        """Search the text of clinical notes (newest first) for keywords, e.g. ["metformin"],
        returning short snippets around each hit. Without keywords, returns the opening of
        the most recent notes. since/until: YYYY[-MM[-DD]]."""
        words = [k.strip() for k in keywords or [] if k.strip()]
        params: dict[str, Any] = {**date_params(since, until), "_sort": "-date"}
        evidence, truncated = await search_notes(
            self.scope, words, params, scan=min(self.scan_limit, 300)
        )
        evidence.sort(key=lambda e: e.date or "", reverse=True)
        what = f"Clinical notes ({', '.join(words) if words else 'most recent'})"
        return self._result(
            "clinical_notes",
            what,
            evidence[:limit],
            truncated=truncated or len(evidence) > limit,
            total=len(evidence),
            empty_note="No note text matches; try other words or a wider date window.",
        )

    @tool(
        noun="billing records",
        enabled_by_default=False,
        phrasing=Phrasing(listed="billing records"),
    )
    async def billing(
        self,
        since: DateText | None = None,
        until: DateText | None = None,
        limit: SeriesLimit = 10,
    ) -> ToolResult:
        """Claims and explanations of benefit (billing, costs), newest first. Only for
        questions about costs or insurance. since/until: YYYY[-MM[-DD]]."""
        date_params(since, until)  # validates the dates
        evidence: list[Evidence] = []
        truncated = False
        for resource_type in ("Claim", "ExplanationOfBenefit"):
            resources, more = await self._scan(
                resource_type, None, lambda r: _in_window(r, since, until)
            )
            truncated = truncated or more
            evidence.extend(format_resource(r) for r in resources)
        evidence.sort(key=lambda e: e.date or "", reverse=True)
        return self._result(
            "billing",
            "Billing",
            evidence[:limit],
            truncated=truncated or len(evidence) > limit,
            empty_note="No billing records.",
        )


def make_toolset(client: FhirSearchClient, patient_id: str) -> PatientToolset:
    """Bind the tools to one patient; the model can never change which."""
    return PatientToolset(client, patient_id)
