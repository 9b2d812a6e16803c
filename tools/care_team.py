"""Who looks after the patient, on the record's own word: the ``care_team`` tool's roster.

Clinicians ask "who's her PCP?", "which doctors has he seen?", "what clinic does she go
to?".  The record answers in three places, and this module keeps them apart because they
mean different things:

- **designated**: ``Patient.generalPractitioner`` is the patient's nominated primary care
  provider.  Only it makes someone the PCP; Synthea never writes it, and then the answer
  says the record names none rather than promoting whoever she sees most;
- **care teams**: ``CareTeam.participant`` members with the role text the record gives
  ("Healthcare professional (occupation)"), per team (often one per condition);
- **seen by**: ``Encounter.participant.individual`` (practitioners) and
  ``Encounter.serviceProvider`` (organizations), with how many encounters and when last.

Each line cites what it comes from: the Practitioner/Organization read by reference
(when the reference is a literal one this scope may follow), the Patient that names a
PCP, the care teams, and the newest encounter.  Names are record text: rendered with the
HumanName rendering (``fhir_client.names``) and made inert (``tools.inert_text``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhir_client.limits import MAX_CARE_TEAM_LINKS
from fhir_client.names import display_name
from tools.evidence import Evidence, EvidenceSeries
from tools.fhir_text import concept_text, reference_of, resource_date
from tools.inert_text import inert_field

__all__ = ["PCP_WORDS", "Member", "Roster", "member_item", "member_name", "roster_notes"]

Resource = dict[str, Any]

_KIND_WORDS = {
    "Practitioner": "practitioner",
    "PractitionerRole": "practitioner",
    "Organization": "organization",
    "RelatedPerson": "related person",
    "CareTeam": "care team",
}
PCP_WORDS = "named as primary care provider on the patient's record"
"""What a line says of someone the record designates; the verifier lets a sentence call
someone the PCP only when a line it cites says this."""


def _target(value: Any, default: str) -> tuple[str, str, str] | None:
    """(key, resource type, display) of a Reference to a person or organization, or None.

    The key is the reference without a version (a literal ``Practitioner/x`` or a
    conditional ``Practitioner?identifier=...`` the loader could not resolve), else the
    display, so one person is one member however often the record names them.  A
    display-only reference is of the ``default`` type its element holds.
    """
    if not isinstance(value, dict):
        return None
    reference = (reference_of(value) or "").split("/_history/")[0]
    kind = reference.split("?", 1)[0].split("/", 1)[0] if reference else ""
    display = value.get("display")
    shown = inert_field(display) if isinstance(display, str) else ""
    if kind not in _KIND_WORDS and not (kind == "" and shown):
        return None  # the patient, a device, a reference of no known kind
    return (reference or f"display:{shown}", kind or default, shown)


@dataclass
class Member:
    """One clinician or organization and every place the record names them."""

    key: str
    kind: str
    display: str
    designated: bool = False
    teams: list[tuple[str, str | None, str]] = field(default_factory=list)
    """(CareTeam reference, its start date, what the line says), newest first when read."""
    seen: int = 0
    first: str | None = None
    last: str | None = None
    last_encounter: str = ""

    @property
    def word(self) -> str:
        return _KIND_WORDS.get(self.kind, "practitioner")

    @property
    def is_organization(self) -> bool:
        return self.kind == "Organization"

    @property
    def readable(self) -> str | None:
        """The literal ``Type/id`` a scope may read for the name, else None."""
        kind, _, rest = self.key.partition("/")
        return self.key if kind in ("Practitioner", "Organization") and rest else None


class Roster:
    """The members found so far, by key (see the module docstring)."""

    def __init__(self) -> None:
        self.members: dict[str, Member] = {}
        self.teams = 0
        self.encounters = 0

    def _member(self, value: Any, default: str = "Practitioner") -> Member | None:
        target = _target(value, default)
        if target is None:
            return None
        key, kind, display = target
        member = self.members.setdefault(key, Member(key, kind, display))
        member.display = member.display or display
        return member

    def designate(self, patient: Resource) -> None:
        """The patient's ``generalPractitioner`` references: the designated PCPs."""
        for value in patient.get("generalPractitioner") or []:
            member = self._member(value)
            if member is not None:
                member.designated = True

    def add_team(self, team: Resource) -> None:
        """One CareTeam: each member with its role text (the patient is left out)."""
        self.teams += 1
        status = team.get("status") if isinstance(team.get("status"), str) else ""
        reasons = [concept_text(c) for c in team.get("reasonCode") or []]
        reason = next((r for r in reasons if r), "")
        reference = f"CareTeam/{team.get('id')}"
        for value in team.get("managingOrganization") or []:
            self._member(value, "Organization")  # a display-only member is this organization
        participants = [p for p in team.get("participant") or [] if isinstance(p, dict)]
        managing = list(team.get("managingOrganization") or [])
        members = [*(p.get("member") for p in participants), *managing]
        roles = [p.get("role") for p in participants]
        for index, value in enumerate(members):
            member = self._member(value, "Practitioner" if index < len(roles) else "Organization")
            if member is None or any(t[0] == reference for t in member.teams):
                continue
            managing_only = index >= len(roles)
            unstated = "managing organization" if managing_only else "role not stated"
            role_list = None if managing_only else roles[index]
            role = next((t for c in role_list or [] if (t := concept_text(c))), unstated)
            words = f"care team member ({inert_field(role)})"
            words += f" for {inert_field(reason)}" if reason else ""
            words += f", team {inert_field(status)}" if status else ""
            member.teams.append((reference, resource_date(team), words))

    def add_encounter(self, encounter: Resource) -> None:
        """One encounter: its practitioners and its service provider were seen that day."""
        self.encounters += 1
        when = resource_date(encounter)
        reference = f"Encounter/{encounter.get('id')}"
        values = [
            p.get("individual") for p in encounter.get("participant") or [] if isinstance(p, dict)
        ]
        values.append(encounter.get("serviceProvider"))
        counted: set[str] = set()
        for index, value in enumerate(values):
            member = self._member(
                value, "Organization" if index == len(values) - 1 else "Practitioner"
            )
            if member is None or member.key in counted:
                continue
            counted.add(member.key)
            member.seen += 1
            if when and (member.last is None or when > member.last):
                member.last, member.last_encounter = when, reference
            elif not member.last_encounter:
                member.last_encounter = reference
            if when and (member.first is None or when < member.first):
                member.first = when

    def ordered(self) -> tuple[list[Member], list[Member]]:
        """(people, organizations): designated first, then most recently seen first, then
        those only on a care team (newest team first)."""

        def order(member: Member) -> tuple[bool, str, str]:
            newest_team = max((t[1] or "" for t in member.teams), default="")
            return (not member.designated, _inverted(member.last or ""), _inverted(newest_team))

        members = sorted(self.members.values(), key=order)
        return [m for m in members if not m.is_organization], [
            m for m in members if m.is_organization
        ]


def _inverted(text: str) -> str:
    """A sort key that puts later ISO dates first (and no date last)."""
    return "".join(chr(0x10FFFF - ord(c)) for c in text) if text else "\U0010ffff"


def _resource_name(resource: Resource | None) -> str:
    if resource is None:
        return ""
    if resource.get("resourceType") == "Organization":
        name = resource.get("name")
        return inert_field(name) if isinstance(name, str) else ""
    return inert_field(display_name(resource))


def member_name(member: Member, resource: Resource | None) -> str:
    """The member's name: the resource's own (HumanName rendering), else the display
    the referencing resource gave, else what kind of member it is."""
    return _resource_name(resource) or member.display or f"unnamed {member.word}"


def member_item(
    member: Member, resource: Resource | None, patient_reference: str
) -> EvidenceSeries:
    """One line per member, each claim beside the resource it comes from."""
    name = member_name(member, resource)

    def point(reference: str, date: str | None, value: str, kind: str) -> Evidence:
        text = " ".join(p for p in (f"{name}:", date, value) if p)
        return Evidence(reference, text, date, kind, label=name, value=value, resource={})

    points: list[Evidence] = []
    if resource is not None and member.readable:
        pcp = f"; {PCP_WORDS}" if member.designated else ""
        points.append(point(member.readable, None, member.word + pcp, member.kind))
    if member.designated:
        points.append(point(patient_reference, None, f"{member.word} {PCP_WORDS}", "Patient"))
    teams = sorted(member.teams, key=lambda t: t[1] or "", reverse=True)
    for reference, date, words in teams[:MAX_CARE_TEAM_LINKS]:
        of = f" (newest {MAX_CARE_TEAM_LINKS} of {len(teams)} care teams)"
        more = len(teams) > MAX_CARE_TEAM_LINKS
        points.append(point(reference, date, words + (of if more else ""), "CareTeam"))
    if member.seen and member.last_encounter:
        since = f" since {member.first}" if member.first and member.first != member.last else ""
        count = "1 encounter" if member.seen == 1 else f"{member.seen} encounters"
        points.append(
            point(member.last_encounter, member.last, f"last seen; on {count}{since}", "Encounter")
        )
    return EvidenceSeries(label=f"{name} ({member.word})", points=tuple(points))


def roster_notes(
    roster: Roster, names: dict[str, str], window: str, *, truncated: bool
) -> tuple[str, ...]:
    """What the record designates and what was looked at, as an answer's first sentences.

    ``names`` maps member keys to their names; ``window`` is "" or ", since 2020" etc.
    """
    people, organizations = roster.ordered()
    designated = [names[m.key] for m in roster.members.values() if m.designated]
    notes: list[str] = []
    if designated:
        notes.append(
            f"The record names {len(designated)} primary care provider(s): {'; '.join(designated)}."
        )
    else:
        notes.append("The record does not name a primary care provider.")
    seen = [m for m in people if m.seen]
    if seen and not designated:
        often = max(seen, key=lambda m: (m.seen, m.last or ""))
        recent = max(seen, key=lambda m: (m.last or "", m.seen))
        count = f"({often.seen} of {roster.encounters} encounters)"
        notes.append(
            f"Of the clinicians on the encounters, {names[recent.key]} saw the patient most "
            + (
                f"recently and most often {count}."
                if often is recent
                else f"recently and {names[often.key]} most often {count}."
            )
        )
    # Each team's status is on its members' lines, beside the team it describes.
    notes.append(
        f"{roster.teams} care team(s) are recorded."
        if roster.teams
        else "No care team is recorded."
    )
    looked = f"The most recent {roster.encounters}" if truncated else str(roster.encounters)
    if roster.encounters:
        notes.append(
            f"{looked} encounter(s){window} name {sum(1 for m in people if m.seen)} "
            f"clinician(s) and {sum(1 for m in organizations if m.seen)} organization(s); "
            "each is listed with the encounters it is on, most recently seen first."
        )
    else:
        notes.append(f"No encounter is recorded{window}.")
    return tuple(notes)
