"""The reading's concepts resolved against the patient's own record.

The rules know the tools' lab, vital and vaccine names; everything else ("blood
thinners", "plavix", "diabetic", "hospitalized", "kidney function") is resolved by the
toolset's concept resolver (``tools.concepts``), which knows the curated vocabularies
and every coded name in this record.  The resolution decides the concept's family (so
planning picks the right tool), the names it matched (so an answer can pick the
matching lines), and, when nothing matched, what was searched (so an answer can state
the absence honestly, naming it).
"""

from __future__ import annotations

from typing import Any, Protocol

from agent.reading.model import Concept, Family, Reading
from tools.vocabulary import LOINC, find_observation_concept, vital_sign_names

__all__ = ["ConceptResolver", "resolve_reading"]

# tools.concepts families -> the reading's families.
_FAMILIES: dict[str, Family] = {
    "conditions": "condition",
    "medications": "medication",
    "labs": "lab",
    "vitals": "vital",
    "surveys": "lab",
    "observations": "lab",
    "procedures": "procedure",
    "immunizations": "immunization",
    "encounters": "encounter",
    "allergies": "allergy",
    "care_plans": "care_plan",
    "notes": "note",
    "goals": "goal",
    "diagnostic_reports": "lab",
}
# When a concept matches several families, the one a question most likely means first.
_PREFERENCE: tuple[Family, ...] = (
    "medication",
    "condition",
    "lab",
    "vital",
    "encounter",
    "immunization",
    "allergy",
    "procedure",
    "care_plan",
    "goal",
    "note",
)
_MAX_TERMS = 16
_MAX_NAME = 60


class ConceptResolver(Protocol):
    """What resolution needs from a toolset (``PatientToolset.resolve_concept``)."""

    async def resolve_concept(self, text: str) -> Any: ...


def _observation_name(match: Any) -> str:
    """A name ``lab_results``/``vital_signs`` finds: a vocabulary name, else the result's
    own LOINC code, else the display.  (A long display cut to fit the argument, "Alcohol
    Use Disorder Identification Test - Consumption", matched nothing: the code does.)"""
    codes = [str(code) for code in getattr(match, "codes", ())]
    for code in codes:
        known = find_observation_concept(code.rsplit("|", 1)[-1])
        if known is not None:
            return known.names[0]
    known = find_observation_concept(str(match.name))
    if known is not None:
        return known.names[0]
    loinc = [c.rsplit("|", 1)[-1] for c in codes if c.startswith(f"{LOINC}|")]
    if loinc and match.role == "code" and match.family != "diagnostic_reports":
        return loinc[0]
    name = str(match.name)
    return name if len(name) <= _MAX_NAME else name[:_MAX_NAME].rsplit(" ", 1)[0]


def _family_of(match: Any) -> Family | None:
    """The reading's family of one match; social history by what carries it (a smoking
    status Observation is a result to report, an employment finding a condition)."""
    if match.family == "social_history":
        observed = any(str(r).startswith("Observation/") for r in match.references)
        return "lab" if observed else "condition"
    return _FAMILIES.get(match.family)


def _screened(matches: Any) -> bool:
    """Whether a result of its own (a score or status the tools look up by its code, not
    one question of a survey panel) matched, and every condition matched is a social
    finding rather than a problem."""
    conditions = [m for m in matches if _family_of(m) == "condition"]
    results = [
        m
        for m in matches
        if _family_of(m) == "lab" and m.role == "code" and m.family != "diagnostic_reports"
    ]
    social = all(m.family == "social_history" for m in conditions)
    return bool(conditions) and bool(results) and social


def _resolved(concept: Concept, resolution: Any, *, drugs_asked: bool = False) -> list[Concept]:
    status = str(resolution.status)
    lab_named = concept.name and concept.hint in ("lab", "vital")
    if status != "found" and lab_named and not (drugs_asked and status == "none_found"):
        # (Not when the question asks about drugs and the vocabularies know what it
        # names: "opiate pain meds" is about opioids, not the pain score.)
        # The vocabulary's name the phrase contains is what can be looked up.
        return [concept.model_copy(update={"family": concept.hint, "found": "vocabulary"})]
    if status != "found":
        absence = resolution.absence() if status == "none_found" else ""
        return [concept.model_copy(update={"found": status, "absence": (absence or "")[:400]})]
    families = [f for m in resolution.matches if (f := _family_of(m))]
    ranked = sorted(set(families), key=_PREFERENCE.index)
    if not ranked:
        # Only families no tool of the reading lists (devices, imaging, supplies): the
        # record-wide search answers it; never an index error, never an absence.
        return [concept.model_copy(update={"found": "found"})]
    # The question's shape ("salt level": a result) outranks the default preference; a
    # hint that only says a lab name is inside the phrase ("sodium fluoride") does not.
    shape = concept.hint if not concept.name else None
    if _screened(resolution.matches):
        # "does she drink?": a screening result (AUDIT-C, smoking status) says how much,
        # where an old social finding ("Unhealthy alcohol drinking behavior") would only
        # make a yes of it.
        shape = "lab"
    hinted = [f for f in ranked if f == shape or {f, shape} <= {"lab", "vital"}]
    family = (hinted or ranked)[0]
    matches = [m for m in resolution.matches if _family_of(m) == family]
    if family in ("lab", "vital") and all(m.via == "whole family" for m in matches):
        # "any labs this year?": every result of the family (the record-wide lookup,
        # windowed), not four of its test names looked up one by one.
        return [concept.model_copy(update={"family": family, "found": "found"})]
    if family in ("lab", "vital"):
        # A result is looked up by what was measured ("Tobacco smoking status"), not by
        # a value it took ("Never smoked tobacco").
        coded = [m for m in matches if m.role != "value"] or matches
        # A report is looked up by the results it groups: when they match too, the
        # report's own name (a panel code no Observation carries) is no search.
        coded = [m for m in coded if m.family != "diagnostic_reports"] or coded
        names = list(dict.fromkeys(_observation_name(m) for m in coded))[:4]
        vitals = set(vital_sign_names())
        return [
            concept.model_copy(
                update={
                    "family": "vital" if name in vitals else "lab",
                    "name": name,
                    "found": "found",
                }
            )
            for name in names
        ]
    terms = list(dict.fromkeys(str(m.name)[:200] for m in matches))[:_MAX_TERMS]
    label = str(resolution.label)[:_MAX_NAME]
    return [
        concept.model_copy(
            update={"family": family, "name": label, "terms": terms, "found": "found"}
        )
    ]


async def resolve_reading(reading: Reading, resolver: ConceptResolver | None) -> Reading:
    """The reading with its unresolved concepts resolved (unchanged without a resolver)."""
    pending = [c for c in reading.concepts if c.family is None]
    if not pending or resolver is None or not hasattr(resolver, "resolve_concept"):
        return reading
    concepts: list[Concept] = []
    for concept in reading.concepts:
        if concept.family is not None:
            concepts.append(concept)
            continue
        resolution = await resolver.resolve_concept(concept.phrase)
        drugs_asked = "medication" in reading.families
        concepts.extend(_resolved(concept, resolution, drugs_asked=drugs_asked))
    families = list(dict.fromkeys([*(c.family for c in concepts if c.family), *reading.families]))
    asks = reading.asks
    if reading.bare and families and set(families) <= {"condition", "medication", "allergy"}:
        asks = "yes_no"  # "AFib?", "plavix?": is it there
    elif reading.bare and concepts and all(c.found == "none_found" for c in concepts):
        asks = "yes_no"  # "Xarelto?" known to the vocabularies, absent here: say no
    if asks == "yes_no" and concepts and concepts[0].family in ("lab", "vital"):
        # "does she smoke?", "is her a1c ok?": the answer is the latest result, not a
        # yes that a "Never smoked tobacco" finding would make false.
        asks = "value"
    measured = bool(concepts) and concepts[0].family in ("lab", "vital")
    if reading.course and measured and asks in ("value", "list"):
        asks = "trend"  # "how have her sugars been": the results' course, read here
    return reading.model_copy(
        update={"concepts": concepts[:4], "families": families[:6], "asks": asks}
    )
