"""The index of every coded name in one patient's record.

Every CodeableConcept a clinician could ask about (a condition's code, a drug, a lab's
test and components, an encounter's type, class and reason, a reaction, a care plan's
activities, ...) becomes an ``IndexEntry``: one per distinct name and role within a
family, listing every resource that carries it.  Matching a concept is then a walk over a
few hundred entries instead of thousands of resources, and the entries say what was
searched ("among 312 medication orders").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from tools.concepts.families import Family
from tools.concepts.record import PatientRecord
from tools.concepts.text import stems
from tools.concepts.vocabularies import vocabularies
from tools.fhir_text import clean_display, concept_texts, reference_of, resource_date
from tools.vocabulary import normalize_name

__all__ = ["IndexEntry", "RecordIndex", "Role", "build_index", "observation_family"]

Resource = dict[str, Any]
Role = Literal["code", "component", "reason", "class", "category", "value", "reaction", "activity"]


@dataclass
class IndexEntry:
    """One distinct coded name in the record, with every resource that carries it."""

    family: Family
    role: Role
    name: str
    texts: list[str] = field(default_factory=list)
    codes: set[str] = field(default_factory=set)
    """``system|code`` and the bare ``code`` of every coding seen."""
    stems: set[str] = field(default_factory=set)
    references: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)

    @property
    def first_date(self) -> str | None:
        return min(self.dates) if self.dates else None

    @property
    def last_date(self) -> str | None:
        return max(self.dates) if self.dates else None


@dataclass
class RecordIndex:
    """Every entry of one record, plus how many resources each family holds."""

    record: PatientRecord
    entries: list[IndexEntry]
    family_counts: Counter[str]
    words: frozenset[str]
    """Every normalised word of every entry (fuzzy matching corrects typos against it)."""

    def of_family(self, *families: str) -> Iterator[IndexEntry]:
        return (e for e in self.entries if e.family in families)


def observation_family(resource: Resource) -> Family:
    """labs, vitals, surveys, social_history or observations, from the category."""
    codes = {
        str(coding.get("code"))
        for category in resource.get("category") or []
        if isinstance(category, dict)
        for coding in category.get("coding") or []
        if isinstance(coding, dict)
    }
    if "laboratory" in codes:
        return "labs"
    if "vital-signs" in codes:
        return "vitals"
    if "social-history" in codes or "sdoh" in codes:
        return "social_history"
    if "survey" in codes:
        return "surveys"
    return "observations"


def is_social_condition(condition: Resource) -> bool:
    """A social finding (employment, education, housing, ...) rather than a problem."""
    vocab = vocabularies()
    for category in condition.get("category") or []:
        for text in concept_texts(category):
            if normalize_name(text) in vocab.social_categories:
                return True
        if isinstance(category, dict):
            for coding in category.get("coding") or []:
                if isinstance(coding, dict) and str(coding.get("code")) in vocab.social_categories:
                    return True
    code = condition.get("code")
    displays = [
        str(c.get("display"))
        for c in (code.get("coding") or [] if isinstance(code, dict) else [])
        if isinstance(c, dict) and c.get("display")
    ]
    if isinstance(code, dict) and isinstance(code.get("text"), str):
        displays.append(code["text"])
    for display in displays:
        if display.rstrip().lower().endswith("(finding)"):
            words = " " + normalize_name(display) + " "
            if any(f" {w}" in words for w in vocab.social_words):
                return True
    return False


def _concepts(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


def _class_concept(coding: Any) -> dict[str, Any] | None:
    """Encounter.class (a Coding) as a concept whose text holds the class's names."""
    if not isinstance(coding, dict) or not isinstance(coding.get("code"), str):
        return None
    known = vocabularies().encounter_classes.get(coding["code"])
    display = coding.get("display")
    label = f"{known.label} encounter" if known else str(display or coding["code"])
    return {"coding": [coding], "text": label}


def _extra_texts(role: Role, concept: dict[str, Any]) -> list[str]:
    """Words an entry answers to beyond its own text: an encounter class's usual names."""
    if role != "class":
        return []
    code = next((c.get("code") for c in concept.get("coding") or [] if isinstance(c, dict)), None)
    known = vocabularies().encounter_classes.get(str(code))
    return list(known.names) if known else []


def _medication_concept(resource: Resource, record: PatientRecord) -> dict[str, Any] | None:
    concept = resource.get("medicationCodeableConcept")
    if isinstance(concept, dict):
        return concept
    medication = record.resolve(reference_of(resource.get("medicationReference")))
    if medication is None:
        for contained in resource.get("contained") or []:
            if isinstance(contained, dict) and contained.get("resourceType") == "Medication":
                medication = contained
    code = medication.get("code") if medication else None
    return code if isinstance(code, dict) else None


def _reasons(resource: Resource, record: PatientRecord) -> Iterator[Any]:
    """Every stated reason: ``reasonCode``, and each ``reasonReference`` as the text of the
    Condition it names (a reference without a display still says why)."""
    yield from _concepts(resource.get("reasonCode"))
    for item in resource.get("reasonReference") or []:
        if not isinstance(item, dict):
            continue
        target = record.resolve(
            item.get("reference") if isinstance(item.get("reference"), str) else None
        )
        if target is not None and isinstance(target.get("code"), dict):
            yield target["code"]
        elif isinstance(item.get("display"), str):
            yield {"text": item["display"]}


def _named(resource: Resource, record: PatientRecord) -> Iterator[tuple[Family, Role, Any]]:
    """(family, role, CodeableConcept) for every askable name of one resource."""
    kind = resource.get("resourceType")
    if kind == "Condition":
        family: Family = "social_history" if is_social_condition(resource) else "conditions"
        yield family, "code", resource.get("code")
    elif kind in ("MedicationRequest", "MedicationStatement", "MedicationAdministration"):
        yield "medications", "code", _medication_concept(resource, record)
        for reason in _reasons(resource, record):
            yield "medications", "reason", reason
    elif kind == "Observation":
        family = observation_family(resource)
        yield family, "code", resource.get("code")
        for component in _concepts(resource.get("component")):
            yield family, "component", component.get("code")
        value = resource.get("valueCodeableConcept")
        if value is not None:
            yield family, "value", value
    elif kind == "Procedure":
        yield "procedures", "code", resource.get("code")
        for reason in _reasons(resource, record):
            yield "procedures", "reason", reason
    elif kind == "Immunization":
        yield "immunizations", "code", resource.get("vaccineCode")
    elif kind == "Encounter":
        for concept in _concepts(resource.get("type")):
            yield "encounters", "code", concept
        yield "encounters", "class", _class_concept(resource.get("class"))
        for reason in _reasons(resource, record):
            yield "encounters", "reason", reason
        for concept in _concepts(resource.get("serviceType")):
            yield "encounters", "category", concept
    elif kind == "AllergyIntolerance":
        yield "allergies", "code", resource.get("code")
        for reaction in _concepts(resource.get("reaction")):
            for manifestation in _concepts(reaction.get("manifestation")):
                yield "allergies", "reaction", manifestation
    elif kind in ("CarePlan", "CareTeam"):
        for category in _concepts(resource.get("category")):
            yield "care_plans", "code", category
        for activity in _concepts(resource.get("activity")):
            detail = activity.get("detail")
            if isinstance(detail, dict):
                yield "care_plans", "activity", detail.get("code")
                for reason in _concepts(detail.get("reasonCode")):
                    yield "care_plans", "reason", reason
        for reason in _concepts(resource.get("reasonCode")):
            yield "care_plans", "reason", reason
    elif kind == "DiagnosticReport":
        yield "diagnostic_reports", "code", resource.get("code")
    elif kind == "DocumentReference":
        yield "notes", "code", resource.get("type")
    elif kind == "Goal":
        yield "goals", "code", resource.get("description")
    elif kind == "Device":
        yield "devices", "code", resource.get("type")
    elif kind == "ImagingStudy":
        for procedure in _concepts(resource.get("procedureCode")):
            yield "imaging", "code", procedure
        for series in _concepts(resource.get("series")):
            body = series.get("bodySite")
            if isinstance(body, dict):
                yield "imaging", "category", {"coding": [body]}
    elif kind == "SupplyDelivery":
        item = resource.get("suppliedItem")
        if isinstance(item, dict):
            yield "supplies", "code", item.get("itemCodeableConcept")


def _codes(concept: dict[str, Any]) -> set[str]:
    codes: set[str] = set()
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            codes.add(coding["code"])
            if isinstance(coding.get("system"), str):
                codes.add(f"{coding['system']}|{coding['code']}")
    return codes


def build_index(record: PatientRecord) -> RecordIndex:
    """Index every askable name of ``record`` (one pass over its resources)."""
    entries: dict[tuple[str, str, str], IndexEntry] = {}
    counted: dict[str, set[str]] = {}
    for resource in record.resources:
        reference = f"{resource.get('resourceType')}/{resource.get('id')}"
        when = resource_date(resource)
        for family, role, concept in _named(resource, record):
            if not isinstance(concept, dict):
                continue
            texts = concept_texts(concept)
            if not texts:
                continue
            name = clean_display(texts[0])
            key = (family, role, normalize_name(name))
            entry = entries.get(key)
            if entry is None:
                entry = entries[key] = IndexEntry(family=family, role=role, name=name)
            for text in texts:
                if text not in entry.texts:
                    entry.texts.append(text)
                    entry.stems.update(stems(text))
            for text in _extra_texts(role, concept):
                entry.stems.update(stems(text))
            entry.codes.update(_codes(concept))
            if not entry.references or entry.references[-1] != reference:
                entry.references.append(reference)
                if when:
                    entry.dates.append(when)
            if role in ("code", "class"):
                counted.setdefault(family, set()).add(reference)
    words = frozenset(
        w for e in entries.values() for t in e.texts for w in normalize_name(t).split()
    )
    return RecordIndex(
        record=record,
        entries=list(entries.values()),
        family_counts=Counter({family: len(refs) for family, refs in counted.items()}),
        words=words,
    )
