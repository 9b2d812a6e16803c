"""Expected answers for the agent tests, read straight from the bundle JSON.

Nothing here calls the tools or the agent: these are the test's own rules for "the
latest HbA1c", "the active medications", ... so the agent is checked against the data,
not against itself.
"""

from __future__ import annotations

import re
from typing import Any

from tests.support.tools_datasets import PatientRecord

Resource = dict[str, Any]

HBA1C = {"4548-4", "17856-6"}
GLUCOSE = {"2339-0", "2345-7", "41653-7"}  # LOINC, the tests' own copy
WEIGHT = {"29463-7", "3141-9"}
# CVX codes of influenza vaccines (CDC vaccine groups), as written in the bundles.
FLU_CVX = {
    "140",
    "141",
    "150",
    "153",
    "155",
    "158",
    "161",
    "166",
    "168",
    "171",
    "185",
    "186",
    "197",
    "205",
    "88",
    "111",
    "135",
    "144",
    "149",
}


def ref(resource: Resource) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def codes(concept: Any) -> set[str]:
    return {str(c.get("code")) for c in (concept or {}).get("coding", [])}


def day(resource: Resource) -> str:
    for key in ("effectiveDateTime", "occurrenceDateTime", "authoredOn", "recordedDate"):
        if isinstance(resource.get(key), str):
            return str(resource[key])[:10]
    period = resource.get("period") or resource.get("effectivePeriod") or {}
    return str(period.get("start", ""))[:10]


def newest(resources: list[Resource]) -> tuple[str, set[str]]:
    """The newest day among ``resources`` and the references dated that day."""
    if not resources:
        return "", set()
    latest = max(day(r) for r in resources)
    return latest, {ref(r) for r in resources if day(r) == latest}


def hba1c_results(record: PatientRecord) -> list[Resource]:
    return [
        o for o in record.of("Observation") if codes(o.get("code")) & HBA1C and "valueQuantity" in o
    ]


def active_medications(record: PatientRecord) -> set[str]:
    return {ref(m) for m in record.of("MedicationRequest") if m.get("status") == "active"}


def active_allergies(record: PatientRecord) -> set[str]:
    return {
        ref(a)
        for a in record.of("AllergyIntolerance")
        if codes(a.get("clinicalStatus")) in (set(), {"active"})
    }


def flu_vaccines(record: PatientRecord) -> list[Resource]:
    return [i for i in record.of("Immunization") if codes(i.get("vaccineCode")) & FLU_CVX]


def cited(answer: str) -> set[str]:
    return set(re.findall(r"\[([A-Z][A-Za-z]+/[A-Za-z0-9\-.]+)\]", answer))


def numbers(text: str) -> list[float]:
    without_refs = re.sub(r"\[[^\]]+\]", " ", text)
    without_dates = re.sub(r"\d{4}-\d{2}-\d{2}", " ", without_refs)
    return [float(n) for n in re.findall(r"\d+(?:\.\d+)?", without_dates)]


def dental_visit(encounter: Resource) -> bool:
    """The tests' own rule: Synthea types a dental visit "Encounter for check up" too and
    tells it by its reason (gingivitis, a dental referral, loss of teeth)."""
    texts = [c.get("display", "") for r in encounter.get("reasonCode", []) for c in r["coding"]]
    return any(re.search(r"(?i)dental|gingiv|teeth|tooth", t) for t in texts)


def wellness_visits(record: PatientRecord) -> list[Resource]:
    """Check-up visits as Synthea types them ("General examination of patient",
    "Encounter for check up", "Well child visit"), less the dental ones."""
    return [
        e
        for e in record.of("Encounter")
        if re.search(
            r"(?i)general examination|check up|well child",
            " ".join(c.get("display", "") for t in e.get("type", []) for c in t["coding"]),
        )
        and not dental_visit(e)
    ]


def measured(record: PatientRecord, wanted: set[str]) -> list[Resource]:
    """The patient's results with any of the LOINC codes ``wanted`` that carry a measurement."""
    return [
        o
        for o in record.of("Observation")
        if codes(o.get("code")) & wanted and ("valueQuantity" in o or "component" in o)
    ]


def conditions_named(record: PatientRecord, pattern: str) -> set[str]:
    """References of the patient's conditions a coding display of which matches ``pattern``."""
    return {
        ref(c)
        for c in record.of("Condition")
        if any(
            re.search(pattern, str(coding.get("display", "")), re.IGNORECASE)
            for coding in (c.get("code") or {}).get("coding", [])
        )
    }
