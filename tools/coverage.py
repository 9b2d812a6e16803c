"""The ``insurance`` tool: who pays for the patient's care, as the record says, cited.

Synthea writes no standalone Coverage resource: the payer is named on every Claim
(``insurance[].coverage.display``) and ExplanationOfBenefit (``insurer.display``, and a
contained Coverage), with ``NO_INSURANCE`` for a visit nobody covered.  Its social needs
survey (PRAPARE) also asks "Primary insurance" (LOINC 76437-3) and records the answer.
So "who is his insurer?" is answered from those two: each payer the claims name, newest
first (how many claims and over which dates, citing the newest claim), and the newest
survey answer.  A server holding Coverage resources is not read for them; when neither
source names a payer the answer says what was read, never that the patient is uninsured.

A mixin of ``PatientToolset`` (see ``tools.toolset_base``): claims through
``PatientScope`` (bounded by ``scan_limit``), the survey from the cached record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tools.declare import DateText, Phrasing, tool
from tools.evidence import Evidence, Item, ToolResult
from tools.fhir_text import clean_display, concept_text, resource_date
from tools.matching import check_date
from tools.toolset_base import Resource, ToolsetBase, _window_words

__all__ = ["CoverageTools", "claim_payers", "reported_insurance"]

#: Synthea's payer name for a visit no insurance covered.
NO_INSURANCE = "NO_INSURANCE"
#: LOINC: "Primary insurance", a question of the PRAPARE social needs survey.
PRIMARY_INSURANCE = "76437-3"


def _display(value: Any) -> str:
    return str(value.get("display") or "").strip() if isinstance(value, dict) else ""


def payer_of(resource: Resource) -> str:
    """The payer a Claim or ExplanationOfBenefit names ("" when none): the focal
    insurance's coverage first, then the insurer."""
    insurances = [i for i in resource.get("insurance") or [] if isinstance(i, dict)]
    insurances.sort(key=lambda i: not i.get("focal"))
    for insurance in insurances:
        name = _display(insurance.get("coverage"))
        if name:
            return name
    return _display(resource.get("insurer"))


@dataclass
class _Payer:
    name: str
    claims: list[Resource] = field(default_factory=list)

    def days(self) -> list[str]:
        return sorted(d for r in self.claims if (d := resource_date(r)))


def claim_payers(claims: list[Resource]) -> list[Evidence]:
    """One line per payer the claims name, the payer of the newest claim first, each
    citing its newest claim."""
    payers: dict[str, _Payer] = {}
    for claim in claims:
        name = payer_of(claim)
        if name:
            payers.setdefault(name, _Payer(name)).claims.append(claim)
    lines: list[Evidence] = []
    for payer in sorted(payers.values(), key=lambda p: p.days()[-1:] or [""], reverse=True):
        newest = max(payer.claims, key=lambda r: resource_date(r) or "")
        days = payer.days()
        kind = str(newest.get("resourceType"))
        count = len(payer.claims)
        nouns = "claim" if count == 1 else "claims"
        span = f", {days[0]} to {days[-1]}" if len(days) > 1 and days[0] != days[-1] else ""
        name = "none (NO_INSURANCE)" if payer.name == NO_INSURANCE else payer.name
        lines.append(
            Evidence(
                reference=f"{kind}/{newest.get('id')}",
                text=f"{days[-1] if days else ''} Payer {name}: {count} {nouns}{span}".strip(),
                date=days[-1] if days else None,
                kind=kind,
                label="Payer",
                value=name,
            )
        )
    return lines


def reported_insurance(observations: list[Resource]) -> Evidence | None:
    """The newest answer to the survey question "Primary insurance", as a line."""
    answers: list[tuple[str, str, Resource]] = []
    for observation in observations:
        parts = [observation, *(observation.get("component") or [])]
        for part in parts:
            if not isinstance(part, dict):
                continue
            codes = {
                c.get("code")
                for c in (part.get("code") or {}).get("coding") or []
                if isinstance(c, dict)
            }
            value = concept_text(part.get("valueCodeableConcept"))
            if PRIMARY_INSURANCE in codes and value:
                answers.append((resource_date(observation) or "", value, observation))
    if not answers:
        return None
    day, value, observation = max(answers, key=lambda a: a[0])
    answer = clean_display(value)
    return Evidence(
        reference=f"Observation/{observation.get('id')}",
        text=f"{day} Primary insurance (social needs survey answer): {answer}".strip(),
        date=day or None,
        kind="Observation",
        label="Primary insurance",
        value=answer,
    )


class CoverageTools(ToolsetBase):
    """Who pays for the patient's care."""

    @tool(
        noun="payers",
        enabled_by_default=False,
        topics=("insur", "payer", "coverage"),
        phrasing=Phrasing(listed="payers", reports=True),
    )
    async def insurance(
        self, since: DateText | None = None, until: DateText | None = None
    ) -> ToolResult:
        """The patient's insurance: each payer named on the claims (the payer of the
        newest claim first, with how many claims and their dates) and the newest answer
        to the social needs survey's "Primary insurance" question. For "who is her
        insurer", "does he have insurance", "what's her payer". since/until:
        YYYY[-MM[-DD]] narrows the claims read."""
        since, until = check_date(since, "since"), check_date(until, "until")

        def in_window(resource: Resource) -> bool:
            day = resource_date(resource) or ""
            return (not since or day >= since) and (not until or day[: len(until)] <= until)

        claims, cut = await self._scan("Claim", None, in_window)
        source = "claims"
        if not claims:  # a server holding only the explanations of benefit
            claims, cut = await self._scan("ExplanationOfBenefit", None, in_window)
            source = "explanations of benefit"
        items: list[Item] = list(claim_payers(claims))
        record = await self.record()
        survey = reported_insurance([o for o in record.of("Observation") if in_window(o)])
        if survey is not None:
            items.append(survey)
        window = _window_words(since, until)
        read = f"{len(claims)} {source}" + (" (the newest of more)" if cut else "")
        if items:
            note = (
                f"Payers named on the patient's {read}{window}, the payer of the newest "
                "claim first; the survey answer is what the patient reported."
            )
        else:
            note = (
                f"No claim or explanation of benefit{window}{',' if window else ''} names a "
                f"payer ({read} read), and no social needs survey answer states an "
                "insurance: the record read does not say who the insurer is (Coverage "
                "resources are not read)."
            )
        return ToolResult(
            tool="insurance",
            summary=f"Insurance{window}: {len(items)} item(s)",
            items=tuple(items),
            truncated=cut,
            notes=(note,),
        )
