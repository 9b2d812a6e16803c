"""Plain-JSON facts the free-form questions are asked about.

Readers over :class:`agent.replay.record.PatientRecord` only (no ``tools`` import): the
results of one measure, the patient's conditions, medication orders with their drug
names and reasons, encounters, immunizations.  Each reader says what an answer must
state, so the question modules only choose wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.replay.freeform.vocabulary import Measure
from agent.replay.record import (
    PatientRecord,
    Resource,
    clean_name,
    codes_of,
    day,
    display_of,
    moment,
    reference,
)
from fhir_client.names import display_name, plain_name

__all__ = [
    "Result",
    "active_orders",
    "condition_names",
    "conditions_matching",
    "drug_name",
    "drug_words",
    "encounters",
    "person_name",
    "results",
]

_FINAL = ("final", "amended", "corrected", "preliminary")


@dataclass(frozen=True)
class Result:
    """One numeric result: the value as an answer states it and the number compared."""

    resource: Resource
    stated: str
    number: float

    @property
    def day(self) -> str:
        return day(self.resource)

    @property
    def reference(self) -> str:
        return reference(self.resource)


def _quantity(value: object) -> float | None:
    if isinstance(value, dict):
        number = value.get("value")
        if isinstance(number, int | float) and not isinstance(number, bool):
            return float(number)
    return None


def _component(observation: Resource, code: str) -> float | None:
    for component in observation.get("component") or []:
        if code in codes_of(component.get("code")):
            return _quantity(component.get("valueQuantity"))
    return None


def results(record: PatientRecord, measure: Measure) -> list[Result]:
    """Final results of ``measure`` with a value, oldest first (systolic compared for BP)."""
    found: list[Result] = []
    for observation in record.of("Observation"):
        if not codes_of(observation.get("code")) & measure.codes:
            continue
        if observation.get("status", "final") not in _FINAL:
            continue
        if measure.components:
            parts = [_component(observation, code) for code in measure.components]
            if any(p is None for p in parts):
                continue
            numbers = [p for p in parts if p is not None]
            found.append(Result(observation, "/".join(f"{p:g}" for p in numbers), numbers[0]))
            continue
        value = _quantity(observation.get("valueQuantity"))
        if value is not None:
            found.append(Result(observation, f"{value:g}", value))
    return sorted(found, key=lambda r: moment(r.resource))


def condition_names(record: PatientRecord) -> list[tuple[str, Resource]]:
    """(clean display, resource) of every disorder (findings such as employment left out)."""
    out: list[tuple[str, Resource]] = []
    for condition in sorted(record.of("Condition"), key=moment):
        display = display_of(condition.get("code"))
        if "(finding)" in display or "(situation)" in display:
            continue
        out.append((clean_name(display), condition))
    return out


def _has_words(text: str, words: str) -> bool:
    return re.search(rf"(?<![a-z]){re.escape(words)}(?![a-z])", text.lower()) is not None


def conditions_matching(record: PatientRecord, *words: str) -> list[tuple[str, Resource]]:
    """Conditions (any status, findings included) whose display holds one of ``words``."""
    out = []
    for condition in sorted(record.of("Condition"), key=moment):
        display = clean_name(display_of(condition.get("code")))
        if any(_has_words(display, w) for w in words):
            out.append((display, condition))
    return out


def drug_name(record: PatientRecord, order: Resource) -> str:
    """The drug of a MedicationRequest: its concept, or the Medication it refers to."""
    name = display_of(order.get("medicationCodeableConcept"))
    if name:
        return name
    target = (order.get("medicationReference") or {}).get("reference")
    medication = record.medications.get(str(target)) if target else None
    return display_of((medication or {}).get("code"))


def drug_words(name: str) -> str:
    """The drug as a clinician says it: "Metformin hydrochloride" from "24 HR Metformin
    hydrochloride 500 MG Extended Release Oral Tablet"."""
    words = re.sub(r"^\d+ HR ", "", name).split()
    kept: list[str] = []
    for word in words:
        if any(ch.isdigit() for ch in word) or word in ("/", "["):
            break
        kept.append(word.strip(","))
    return " ".join(kept) or name


def active_orders(record: PatientRecord) -> list[tuple[str, Resource]]:
    """(drug name, order) of every active MedicationRequest, newest first."""
    orders = [o for o in record.of("MedicationRequest") if o.get("status") == "active"]
    orders.sort(key=moment, reverse=True)
    return [(drug_name(record, o), o) for o in orders if drug_name(record, o)]


def encounters(record: PatientRecord) -> list[Resource]:
    """Encounters oldest first."""
    return sorted(record.of("Encounter"), key=moment)


def person_name(patient: Resource) -> str:
    """ "Milton Ortiz" from Synthea's "Milton509" / "Ortiz186" (digits dropped)."""
    return plain_name(display_name(patient, given_limit=1))
