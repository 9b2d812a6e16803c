"""Chart tools: problems, medications, allergies, vaccines, care plans and goals.

Each is one typed method (``tools.declare``); every list takes a period and says how many
match when it shows fewer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import Field

from tools.declare import DateText, DrugName, ListLimit, Name, Phrasing, PlanLimit, ToolName, tool
from tools.evidence import Evidence, Item, ToolResult, collapse_series
from tools.fhir_text import first_code
from tools.formatting import format_resource, medication_name
from tools.history import first_by_name, group_doses
from tools.matching import (
    concept_matches,
    date_params,
    expand_condition_name,
    text_matches,
)
from tools.toolset_base import (
    _CONDITION_STATUS,
    _MEDICATION_STATUS,
    Resource,
    ToolsetBase,
    _dated_in,
    _newest_first,
    _taken_in,
    _window_words,
)
from tools.vocabulary import CVX, find_vaccine_group

__all__ = ["ChartTools"]


class ChartTools(ToolsetBase):
    """Problems, drugs, allergies, vaccines, plans and goals of the bound patient."""

    @tool(
        noun="conditions",
        kind="list",
        topics=("condition", "problem", "diagnos"),
        family="condition",
        phrasing=Phrasing(counts=True, searched="conditions"),
    )
    async def conditions(
        self,
        status: Literal["active", "resolved", "all"] | None = None,
        name: Name | None = None,
        code: Annotated[str, Field(pattern=r"^[A-Za-z0-9.\-]{1,20}$", max_length=20)] | None = None,
        since: DateText | None = None,
        until: DateText | None = None,
        limit: ListLimit = 50,
    ) -> ToolResult:
        """Problems and diagnoses with onset date and status (resolved ones with abatement
        date). status: active (default), resolved, or all (default with since/until).
        name: words such as "diabetes", "hypertension", "CKD". code: a SNOMED CT or
        ICD-10 code. since/until: YYYY[-MM[-DD]], onset in that period."""
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
            empty_note=(
                f"No {'' if status == 'all' else status + ' '}conditions"
                f"{f' named {name!r}' if name else ''}{f' with code {code}' if code else ''}"
                f"{_window_words(since, until).replace(',', ' with onset', 1)} in this record."
            ),
        )

    @tool(
        noun="medication orders",
        kind="list",
        topics=("medication", "medicine", "drug", "prescri"),
        family="medication",
        phrasing=Phrasing(counts=True, searched="medication orders"),
    )
    async def medications(
        self,
        status: Literal["active", "stopped", "all"] | None = None,
        name: DrugName | None = None,
        mode: Literal["list", "first"] = "list",
        since: DateText | None = None,
        until: DateText | None = None,
        limit: ListLimit = 30,
        window: Literal["taken", "written"] = "taken",
    ) -> ToolResult:
        """Medication orders (MedicationRequest) with date and status. status: active
        (default: current medications), stopped, or all (default with since/until).
        name: drug words, e.g. "metformin". mode: list (default; repeated orders of one
        drug on one line) or first (the first order of each matching drug, whatever its
        status). since/until: YYYY[-MM[-DD]]; window: taken (default; also active
        orders written before the period) or written (only orders written in it)."""
        dated = _taken_in(since, until) if window == "taken" else _dated_in(since, until)
        dated_before = window == "taken" and bool(since or until)
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
            empty_note=(
                f"No {'' if status == 'all' else status + ' '}medication orders "
                f"{f'named {name!r} ' if name else ''}match in this record"
                f"{_window_words(since, until).replace(',', ' for', 1)}"
                f"{' (written then, or active and written before)' if dated_before else ''}."
            ),
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

    @tool(
        noun="allergies",
        kind="list",
        topics=("allerg",),
        family="allergy",
        phrasing=Phrasing(searched="allergies"),
    )
    async def allergies(
        self,
        status: Literal["active", "all"] = "active",
        since: DateText | None = None,
        until: DateText | None = None,
        category: Literal["medication", "food", "environment", "biologic"] | None = None,
    ) -> ToolResult:
        """Allergies and intolerances with substance, category, criticality and reactions.
        status: active (default) or all (includes inactive/resolved).
        since/until: YYYY[-MM[-DD]], recorded in that period. category: only allergies of
        that kind (medication for "drug allergies")."""

        def active(r: Resource) -> bool:
            if category is not None and category not in (r.get("category") or []):
                return False
            return status == "all" or first_code(r.get("clinicalStatus")) in ("", "active")

        return await self._dated_list(
            "allergies",
            "Allergies",
            "AllergyIntolerance",
            (status, since, until),
            keep=active,
            empty_note=(
                f"No {category + ' ' if category else ''}allergies are recorded (absence of a "
                "record is not proof of none)."
            ),
        )

    @tool(
        noun="vaccine doses",
        kind="event",
        topics=("vaccin", "immuni", "shot"),
        family="immunization",
        phrasing=Phrasing(
            counts=True,
            searched="immunizations",
            newest="immunization",
        ),
    )
    async def immunizations(
        self,
        vaccine: Name | None = None,
        since: DateText | None = None,
        until: DateText | None = None,
        limit: ListLimit = 20,
    ) -> ToolResult:
        """Vaccines given. Without vaccine: every vaccine in the record, one line each
        listing all its dates (limit: lines). vaccine: e.g. "influenza", "flu", "covid",
        "Tdap", "pneumococcal", "zoster": its newest `limit` doses.
        since/until: YYYY, YYYY-MM or YYYY-MM-DD."""
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

    @tool(noun="care plans", kind="list", topics=("care plan", "plan"))
    async def care_plans(
        self,
        status: Literal["active", "all"] = "active",
        since: DateText | None = None,
        until: DateText | None = None,
        limit: PlanLimit = 20,
    ) -> ToolResult:
        """Care plans with category, status and planned activities. status: active or all.
        since/until: YYYY[-MM[-DD]], plans started in that period."""
        return await self._dated_list(
            "care_plans",
            "Care plans",
            "CarePlan",
            (status, since, until),
            params={"status": "active"} if status == "active" else None,
            limit=limit,
            empty_note="No care plan is recorded.",
        )

    @tool(noun="goals", kind="list", topics=("goal",))
    async def goals(
        self,
        status: Literal["active", "all"] = "active",
        since: DateText | None = None,
        until: DateText | None = None,
        limit: PlanLimit = 20,
    ) -> ToolResult:
        """Patient goals (e.g. HbA1c target, weight loss) with lifecycle status.
        since/until: YYYY[-MM[-DD]], goals started in that period."""

        def active(r: Resource) -> bool:
            return status == "all" or r.get("lifecycleStatus") in ("active", "accepted", None)

        return await self._dated_list(
            "goals",
            "Goals",
            "Goal",
            (status, since, until),
            keep=active,
            limit=limit,
            empty_note="No goals are recorded.",
        )

    async def _dated_list(
        self,
        tool: ToolName,
        title: str,
        resource_type: str,
        asked: tuple[str, str | None, str | None],
        *,
        params: dict[str, Any] | None = None,
        keep: Callable[[Resource], bool] | None = None,
        limit: int | None = None,
        empty_note: str,
    ) -> ToolResult:
        """A status list of one type started in the window, newest first: the shape that
        allergies, care plans and goals share.  ``asked`` is (status, since, until);
        ``params`` the server-side filter, ``keep`` the client-side one; ``limit`` None
        shows every match."""
        status, since, until = asked
        dated = _dated_in(since, until)
        resources, truncated = await self._scan(
            resource_type, params, lambda r: dated(r) and (keep is None or keep(r))
        )
        return self._result(
            tool,
            f"{title} ({status}{_window_words(since, until)})",
            [format_resource(r) for r in resources[:limit]],
            truncated=truncated or (limit is not None and len(resources) > limit),
            total=len(resources),
            empty_note=empty_note,
        )
