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
from typing import Any, Literal

from tools.evidence import Evidence, Item, ToolResult, collapse_series
from tools.fhir_text import first_code, resource_date
from tools.formatting import format_resource, medication_name
from tools.history import first_by_name, group_doses
from tools.matching import (
    check_date,
    concept_matches,
    date_params,
    expand_condition_name,
    first_day,
    last_day,
    text_matches,
)
from tools.notes import search_notes
from tools.observations import Mode, find_observations
from tools.record_tools import RecordTools
from tools.scope import FhirSearchClient, PatientScope
from tools.vocabulary import CVX, find_vaccine_group

__all__ = ["PatientToolset", "make_toolset"]

Resource = dict[str, Any]

_CONDITION_STATUS = {
    "active": "active,recurrence,relapse",
    "resolved": "resolved,remission,inactive",
}
_MEDICATION_STATUS = {"active": "active", "stopped": "stopped,completed,cancelled,on-hold"}
_ENCOUNTER_CLASS_NAMES = {
    "AMB": "ambulatory outpatient office clinic",
    "EMER": "emergency er ed",
    "IMP": "inpatient hospital admission",
    "ACUTE": "inpatient acute",
    "VR": "virtual telehealth telemedicine",
    "HH": "home health",
}


def _newest_first(resources: list[Resource]) -> list[Resource]:
    return sorted(resources, key=lambda r: resource_date(r) or "", reverse=True)


def _in_window(resource: Resource, since: str | None, until: str | None) -> bool:
    when = resource_date(resource) or ""
    if since and when[: len(since)] < since:
        return False
    return not (until and when[: len(until)] > until)


def _day_window(since: str | None, until: str | None) -> tuple[str | None, str | None]:
    """The window as whole days, for comparing with a resource's ``YYYY-MM-DD`` date."""
    return (first_day(since) if since else None, last_day(until) if until else None)


def _dated_in(since: str | None, until: str | None) -> Callable[[Resource], bool]:
    """Keep resources whose own date lies in the window (YYYY[-MM[-DD]], inclusive)."""
    day_since, day_until = _day_window(check_date(since, "since"), check_date(until, "until"))
    if not day_since and not day_until:
        return lambda r: True
    return lambda r: bool(resource_date(r)) and _in_window(r, day_since, day_until)


def _window_words(since: str | None, until: str | None) -> str:
    if since and until:
        return f", {since} to {until}" if since != until else f", {since}"
    return f", since {since}" if since else (f", until {until}" if until else "")


def _check_limit(limit: int, maximum: int) -> int:
    if not 1 <= limit <= maximum:
        raise ValueError(f"limit={limit} is out of range; use 1 to {maximum}")
    return limit


class PatientToolset(RecordTools):
    """The clinical tools, bound to one patient.

    ``scan_limit`` bounds the client-side scans used for name filters that FHIR search
    cannot express portably.
    """

    def __init__(
        self, client: FhirSearchClient, patient_id: str, *, scan_limit: int = 1000
    ) -> None:
        self.scope = PatientScope(client, patient_id)
        self.scan_limit = scan_limit

    @property
    def patient_id(self) -> str:
        return self.scope.patient_id

    def _result(
        self,
        tool: str,
        summary: str,
        evidence: list[Evidence] | list[Item],
        *,
        truncated: bool = False,
        empty_note: str = "",
        total: int | None = None,
    ) -> ToolResult:
        notes = (empty_note,) if empty_note and not evidence else ()
        return ToolResult(
            tool=tool,
            summary=f"{summary}: {len(evidence)} item(s)",
            items=tuple(evidence),
            truncated=truncated,
            total_available=total,
            notes=notes,
        )

    async def _scan(
        self,
        resource_type: str,
        params: dict[str, Any] | None = None,
        keep: Callable[[Resource], bool] | None = None,
    ) -> tuple[list[Resource], bool]:
        found = await self.scope.search(resource_type, params, max_results=self.scan_limit)
        resources = [r for r in found.resources if keep is None or keep(r)]
        return _newest_first(resources), found.truncated

    async def patient_overview(self) -> ToolResult:
        """Demographics of the patient: name, sex, birth date, age, and whether deceased."""
        patient = await self.scope.read_patient()
        if not self.scope.belongs_to_patient(patient):
            raise ValueError("the server returned a different Patient than the one requested")
        return self._result("patient_overview", "Patient overview", [format_resource(patient)])

    async def conditions(
        self,
        status: Literal["active", "resolved", "all"] | None = None,
        name: str | None = None,
        code: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 50,
    ) -> ToolResult:
        """Problems and diagnoses with onset date and status (resolved ones with abatement
        date). status: active (default), resolved, or all (default with since/until).
        name: words such as "diabetes", "hypertension", "CKD". code: a SNOMED CT or
        ICD-10 code. since/until: YYYY[-MM[-DD]], onset in that period."""
        _check_limit(limit, 200)
        dated = _dated_in(since, until)
        status = status or ("all" if since or until else "active")
        params: dict[str, Any] = {}
        if status != "all":
            params["clinical-status"] = _CONDITION_STATUS[status]
        if code:
            params["code"] = code
        wanted = expand_condition_name(name) if name else None

        def keep(r: Resource) -> bool:
            return dated(r) and (wanted is None or concept_matches(wanted, r.get("code")))

        resources, truncated = await self._scan("Condition", params, keep)
        what = (
            f"Conditions ({status}{', ' + name if name else ''}{', code ' + code if code else ''}"
            f"{_window_words(since, until)})"
        )
        return self._result(
            "conditions",
            what,
            [format_resource(r) for r in resources[:limit]],
            truncated=truncated or len(resources) > limit,
            total=len(resources),
            empty_note=f"No {status} condition matches in this record.",
        )

    async def _medication_for(self, request: Resource) -> Resource | None:
        reference = request.get("medicationReference")
        ref = reference.get("reference") if isinstance(reference, dict) else None
        if not isinstance(ref, str):
            return None
        if ref.startswith("#"):
            for contained in request.get("contained") or []:
                if isinstance(contained, dict) and contained.get("id") == ref[1:]:
                    return contained if contained.get("resourceType") == "Medication" else None
            return None
        return await self.scope.read_shared(ref)

    async def medications(
        self,
        status: Literal["active", "stopped", "all"] | None = None,
        name: str | None = None,
        mode: Literal["list", "first"] = "list",
        since: str | None = None,
        until: str | None = None,
        limit: int = 30,
    ) -> ToolResult:
        """Medication orders (MedicationRequest) with date and status. status: active
        (default: current medications), stopped, or all (default with since/until).
        name: drug words, e.g. "metformin". mode: list (default; repeated orders of one
        drug on one line) or first (the first order of each matching drug, whatever its
        status). since/until: YYYY[-MM[-DD]], orders written in that period."""
        _check_limit(limit, 200)
        dated = _dated_in(since, until)
        status = status or ("all" if since or until else "active")
        if mode == "first":
            return await self._first_orders(name, limit)
        params = {"status": _MEDICATION_STATUS[status]} if status != "all" else {}
        resources, truncated = await self._scan("MedicationRequest", params, dated)
        evidence: list[Evidence] = []
        for resource in resources:
            medication = await self._medication_for(resource)
            line = format_resource(resource, medication=medication)
            if name and not text_matches(name, [medication_name(resource, medication)]):
                continue
            evidence.append(line)
        shown = evidence[:limit]
        items = collapse_series(shown, min_points=2) if status != "active" else list(shown)
        what = f"Medications ({status}{', ' + name if name else ''}{_window_words(since, until)})"
        return self._result(
            "medications",
            what,
            items,
            truncated=truncated or len(evidence) > limit,
            total=len(evidence),
            empty_note=f"No {status} medication orders match in this record.",
        )

    async def _first_orders(self, name: str | None, limit: int) -> ToolResult:
        """The earliest order of each matching drug, every status, oldest first."""
        found = await self.scope.search(
            "MedicationRequest", {"_sort": "authoredon"}, max_results=self.scan_limit
        )
        orders: list[tuple[str, Evidence]] = []
        for resource in found.resources:
            medication = await self._medication_for(resource)
            full = medication_name(resource, medication)
            if name and not text_matches(name, [full]):
                continue
            orders.append((full, format_resource(resource, medication=medication)))
        first = first_by_name(orders, name)
        return self._result(
            "medications",
            f"First orders ({name or 'every drug'})",
            first[:limit],
            truncated=found.truncated or len(first) > limit,
            total=len(first),
            empty_note="No medication order matches in this record.",
        )

    async def allergies(
        self,
        status: Literal["active", "all"] = "active",
        since: str | None = None,
        until: str | None = None,
    ) -> ToolResult:
        """Allergies and intolerances with substance, category, criticality and reactions.
        status: active (default) or all (includes inactive/resolved).
        since/until: YYYY[-MM[-DD]], recorded in that period."""
        dated = _dated_in(since, until)

        def keep(r: Resource) -> bool:
            active = status == "all" or first_code(r.get("clinicalStatus")) in ("", "active")
            return active and dated(r)

        resources, truncated = await self._scan("AllergyIntolerance", None, keep)
        return self._result(
            "allergies",
            f"Allergies ({status}{_window_words(since, until)})",
            [format_resource(r) for r in resources],
            truncated=truncated,
            total=len(resources),
            empty_note="No allergies are recorded (absence of a record is not proof of none).",
        )

    async def immunizations(
        self,
        vaccine: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 20,
    ) -> ToolResult:
        """Vaccines given. Without vaccine: every vaccine in the record, one line each
        listing all its dates (limit: lines). vaccine: e.g. "influenza", "flu", "covid",
        "Tdap", "pneumococcal", "zoster": its newest `limit` doses.
        since/until: YYYY, YYYY-MM or YYYY-MM-DD."""
        _check_limit(limit, 200)
        params: dict[str, Any] = {**date_params(since, until), "_sort": "-date"}
        group = find_vaccine_group(vaccine) if vaccine else None
        if group is not None:
            params["vaccine-code"] = ",".join(f"{CVX}|{c}" for c in group.cvx_codes)
        if vaccine is None:
            return await self._vaccine_history(params, limit)
        if group is None:
            resources, truncated = await self._scan(
                "Immunization", params, lambda r: concept_matches(vaccine, r.get("vaccineCode"))
            )
        else:
            found = await self.scope.search("Immunization", params, max_results=limit)
            resources, truncated = _newest_first(found.resources), found.truncated
        what = f"Immunizations ({group.label if group else vaccine})"
        return self._result(
            "immunizations",
            what,
            [format_resource(r) for r in resources[:limit]],
            truncated=truncated or len(resources) > limit,
            empty_note="No matching immunization is recorded.",
        )

    async def _vaccine_history(self, params: dict[str, Any], limit: int) -> ToolResult:
        """Every dose in the window, grouped by vaccine (``limit`` vaccines at most)."""
        resources, truncated = await self._scan("Immunization", params)
        groups = group_doses(format_resource(r) for r in resources)
        shown: list[Item] = list(groups[:limit])
        doses = sum(len(g.references) for g in shown)
        return self._result(
            "immunizations",
            f"Immunizations (every vaccine, {doses} dose(s))",
            shown,
            truncated=truncated or len(groups) > limit,
            total=len(resources) if not truncated else None,
            empty_note="No matching immunization is recorded.",
        )

    async def lab_results(
        self,
        name: str,
        mode: Mode = "latest",
        since: str | None = None,
        until: str | None = None,
        limit: int = 10,
        above: float | None = None,
        below: float | None = None,
    ) -> ToolResult:
        """Laboratory results by test name or LOINC code, e.g. "HbA1c", "LDL", "eGFR",
        "creatinine", "viral load". mode: latest (default), first, series (the last
        `limit`, oldest to newest), highest or lowest. above/below: only results beyond
        the number (the total counts them). since/until: YYYY[-MM[-DD]]."""
        _check_limit(limit, 50)
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

    async def vital_signs(
        self,
        name: str,
        mode: Mode = "latest",
        since: str | None = None,
        until: str | None = None,
        limit: int = 10,
        above: float | None = None,
        below: float | None = None,
    ) -> ToolResult:
        """Vital signs: "blood pressure", "weight", "height", "BMI", "heart rate",
        "respiratory rate", "temperature", "oxygen saturation", "pain". mode: latest
        (default), first, series, highest or lowest (blood pressure by systolic).
        above/below: only values beyond the number. since/until: YYYY[-MM[-DD]]."""
        _check_limit(limit, 50)
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

    async def _windowed(
        self,
        resource_type: str,
        window: tuple[str | None, str | None],
        keep: Callable[[Resource], bool] | None,
        limit: int,
    ) -> tuple[list[Resource], bool, int | None]:
        """Newest first in a date window: the resources, whether more exist, the total.

        Without a client-side filter the server sorts and the total comes from a
        ``_summary=count`` search when the page did not hold every match (one cheap
        request); with a filter, the scan is counted.  The window is checked again on
        the resource's own date, so a count means the same on every server.
        """
        since, until = window
        params: dict[str, Any] = {**date_params(since, until), "_sort": "-date"}
        day_since, day_until = _day_window(since, until)

        def in_window(r: Resource) -> bool:
            return _in_window(r, day_since, day_until) and (keep is None or keep(r))

        if keep is not None:
            resources, truncated = await self._scan(resource_type, params, in_window)
            return resources, truncated or len(resources) > limit, len(resources)
        found = await self.scope.search(resource_type, params, max_results=limit)
        resources = _newest_first([r for r in found.resources if in_window(r)])
        total = await self.scope.count(resource_type, params) if found.truncated else None
        return resources, found.truncated, len(resources) if not found.truncated else total

    async def encounters(
        self,
        encounter_type: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 10,
    ) -> ToolResult:
        """Visits (encounters), newest first, with type, class and reason.
        encounter_type: words such as "emergency", "inpatient", "wellness", "follow-up"
        (omit for all). since/until: YYYY[-MM[-DD]] (with a window and a high limit,
        every visit in it: the result's total is the count)."""
        _check_limit(limit, 200)
        keep: Callable[[Resource], bool] | None = None
        if encounter_type:

            def keep(r: Resource) -> bool:
                cls = r.get("class")
                code = cls.get("code") if isinstance(cls, dict) else ""
                texts = [code or "", _ENCOUNTER_CLASS_NAMES.get(str(code), "")]
                return text_matches(encounter_type, texts) or concept_matches(
                    encounter_type, r.get("type"), r.get("reasonCode")
                )

        resources, truncated, total = await self._windowed("Encounter", (since, until), keep, limit)
        return self._result(
            "encounters",
            f"Encounters ({encounter_type or 'all'})",
            [format_resource(r) for r in resources[:limit]],
            truncated=truncated,
            total=total,
            empty_note="No matching encounter in this record.",
        )

    async def procedures(
        self,
        name: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 10,
    ) -> ToolResult:
        """Procedures performed, newest first, with reason. name: words such as
        "colonoscopy", "echocardiography" (omit for all). since/until: YYYY[-MM[-DD]]."""
        _check_limit(limit, 200)
        keep = (lambda r: concept_matches(name, r.get("code"))) if name else None
        resources, truncated, total = await self._windowed("Procedure", (since, until), keep, limit)
        return self._result(
            "procedures",
            f"Procedures ({name or 'all'})",
            [format_resource(r) for r in resources[:limit]],
            truncated=truncated,
            total=total,
            empty_note="No matching procedure in this record.",
        )

    async def clinical_notes(
        self,
        keywords: list[str] | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 5,
    ) -> ToolResult:
        """Search the text of clinical notes (newest first) for keywords, e.g. ["metformin"],
        returning short snippets around each hit. Without keywords, returns the opening of
        the most recent notes. since/until: YYYY[-MM[-DD]]."""
        _check_limit(limit, 20)
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

    async def care_plans(
        self,
        status: Literal["active", "all"] = "active",
        since: str | None = None,
        until: str | None = None,
        limit: int = 20,
    ) -> ToolResult:
        """Care plans with category, status and planned activities. status: active or all.
        since/until: YYYY[-MM[-DD]], plans started in that period."""
        _check_limit(limit, 100)
        params = {"status": "active"} if status == "active" else None
        resources, truncated = await self._scan("CarePlan", params, _dated_in(since, until))
        return self._result(
            "care_plans",
            f"Care plans ({status}{_window_words(since, until)})",
            [format_resource(r) for r in resources[:limit]],
            truncated=truncated or len(resources) > limit,
            total=len(resources),
            empty_note="No care plan is recorded.",
        )

    async def goals(
        self,
        status: Literal["active", "all"] = "active",
        since: str | None = None,
        until: str | None = None,
        limit: int = 20,
    ) -> ToolResult:
        """Patient goals (e.g. HbA1c target, weight loss) with lifecycle status.
        since/until: YYYY[-MM[-DD]], goals started in that period."""
        _check_limit(limit, 100)
        dated = _dated_in(since, until)

        def keep(r: Resource) -> bool:
            active = status == "all" or r.get("lifecycleStatus") in ("active", "accepted", None)
            return active and dated(r)

        resources, truncated = await self._scan("Goal", None, keep)
        return self._result(
            "goals",
            f"Goals ({status}{_window_words(since, until)})",
            [format_resource(r) for r in resources[:limit]],
            truncated=truncated or len(resources) > limit,
            total=len(resources),
            empty_note="No goals are recorded.",
        )

    async def billing(
        self, since: str | None = None, until: str | None = None, limit: int = 10
    ) -> ToolResult:
        """Claims and explanations of benefit (billing, costs), newest first. Only for
        questions about costs or insurance. since/until: YYYY[-MM[-DD]]."""
        _check_limit(limit, 50)
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
