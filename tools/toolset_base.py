"""The toolset's shared machinery: the patient scope, bounded scans, results, windows.

``PatientToolset`` (``tools.toolset``) is assembled from mixins, each a handful of tools
with one concern: ``ChartTools`` (problems, drugs, allergies, vaccines, plans),
``RecordTools`` (concepts, record-wide search, visits) and the observation and event
tools of ``PatientToolset`` itself.  Everything they share lives here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tools.declare import ToolName
from tools.evidence import Evidence, Item, ToolResult
from tools.fhir_text import resource_date
from tools.matching import (
    check_date,
    date_params,
    first_day,
    last_day,
)
from tools.record_tools import RecordTools
from tools.scope import FhirSearchClient, PatientScope

__all__ = ["ToolsetBase"]

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


def _taken_in(since: str | None, until: str | None) -> Callable[[Resource], bool]:
    """Medication orders taken in the window: written in it, or current (``active``) and
    written before its end, so taken then too ("what was she on in 2020").  A stopped
    order written before the window is left out: its end date is not recorded."""
    written_in = _dated_in(since, until)
    _, day_until = _day_window(check_date(since, "since"), check_date(until, "until"))

    def taken(order: Resource) -> bool:
        written = resource_date(order) or ""
        current = order.get("status") == "active" and bool(written)
        return written_in(order) or (current and (not day_until or written[:10] <= day_until))

    return taken


def _window_words(since: str | None, until: str | None) -> str:
    if since and until:
        return f", {since} to {until}" if since != until else f", {since}"
    return f", since {since}" if since else (f", until {until}" if until else "")


class ToolsetBase(RecordTools):
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
        tool: ToolName,
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
