"""The ``care_team`` tool: the patient's clinicians and organizations, cited.

A mixin of ``PatientToolset`` (see ``tools.toolset_base``) with one concern: reading the
Patient's ``generalPractitioner``, the patient's CareTeams and encounters, and the
Practitioner and Organization resources they reference (only through
``PatientScope.read_shared``, so a reference can never pull in another patient), into
the roster of ``tools.care_team``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from fhir_client.limits import MAX_CARE_TEAM_MEMBERS, MAX_CARE_TEAM_READS
from tools.care_team import Member, Roster, member_item, member_name, roster_notes
from tools.declare import DateText, Phrasing, tool
from tools.evidence import Item, ToolResult
from tools.toolset_base import Resource, ToolsetBase, _dated_in, _window_words

__all__ = ["ClinicianTools"]


class ClinicianTools(ToolsetBase):
    """Who the record says looks after the patient."""

    @tool(
        noun="clinicians",
        kind="single",
        # Stems an answer names them by ("clinic" would also be the stem of "clinical").
        topics=(
            "care team",
            "doctor",
            "physician",
            "clinician",
            "practitioner",
            "pcp",
            "primary care",
        ),
        phrasing=Phrasing(listed="clinicians and organizations", reports=True),
    )
    async def care_team(
        self,
        since: DateText | None = None,
        until: DateText | None = None,
        limit: Annotated[int, Field(ge=1, le=MAX_CARE_TEAM_MEMBERS)] = 10,
    ) -> ToolResult:
        """The patient's clinicians and organizations: the primary care provider only if
        the record names one (it says so when it does not), care team members with their
        roles, and who she was seen by (practitioners and organizations of her encounters,
        with the number of encounters and the date last seen, most recent first). For
        "who is her PCP / doctor / care team", "which doctors has she seen", "what clinic
        does she go to". since/until: YYYY[-MM[-DD]] narrows the encounters counted."""
        roster = Roster()
        patient = await self.scope.read_patient()
        if self.scope.belongs_to_patient(patient):
            roster.designate(patient)
        teams, teams_cut = await self._scan("CareTeam")
        for team in teams:
            roster.add_team(team)
        encounters, cut = await self._scan("Encounter", {"_sort": "-date"}, _dated_in(since, until))
        for encounter in encounters:
            roster.add_encounter(encounter)
        people, organizations = roster.ordered()
        shown = [*people[:limit], *organizations[:limit]]
        resources = await self._named(shown)
        names = {m.key: member_name(m, resources.get(m.key)) for m in roster.members.values()}
        items: list[Item] = [
            member_item(m, resources.get(m.key), self.scope.patient_reference) for m in shown
        ]
        window = _window_words(since, until)
        return ToolResult(
            tool="care_team",
            summary=f"Clinicians and organizations{window}: {len(items)} item(s)",
            items=tuple(items),
            truncated=len(shown) < len(people) + len(organizations) or cut or teams_cut,
            total_available=len(people) + len(organizations),
            notes=roster_notes(roster, names, window, truncated=cut),
        )

    async def _named(self, members: list[Member]) -> dict[str, Resource]:
        """The Practitioner/Organization resources of ``members`` that the scope may read,
        at most ``MAX_CARE_TEAM_READS`` of them (the rest keep their reference's display)."""
        found: dict[str, Resource] = {}
        readable = [m for m in members if m.readable][:MAX_CARE_TEAM_READS]
        for member in readable:
            resource = await self.scope.read_shared(member.readable)
            if resource is not None and resource.get("resourceType") == member.kind:
                found[member.key] = resource
        return found
