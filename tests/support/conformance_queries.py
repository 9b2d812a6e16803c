"""Searches for the conformance suite, derived from the Synthea bundles themselves.

Every search names codes, categories and dates that really occur in the
patient's record, so most of them match something and an empty result on
one server is a real disagreement, not a vacuous pass. Nothing here goes
through our own store: the values come straight from the bundle JSON.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class Search:
    """One FHIR search: a resource type and its query parameters (repeatable)."""

    resource_type: str
    params: tuple[tuple[str, str], ...]

    @property
    def signature(self) -> str:
        """Type plus parameter names: what makes two searches 'distinct'."""
        names = sorted({name for name, _ in self.params if name != "patient"})
        return f"{self.resource_type}?{'&'.join(names)}"

    def label(self) -> str:
        return f"{self.resource_type}?" + "&".join(f"{k}={v}" for k, v in self.params)


def patient_resources(bundle_path: Path) -> tuple[str, list[JsonObject]]:
    """The Patient id and every resource of one Synthea patient bundle."""
    bundle = json.loads(bundle_path.read_text(encoding="utf-8"))
    resources = [entry["resource"] for entry in bundle["entry"]]
    patient_id = next(r["id"] for r in resources if r["resourceType"] == "Patient")
    return patient_id, resources


def _codes(resources: Iterable[JsonObject], field: str) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for resource in resources:
        concept = resource.get(field)
        concepts = concept if isinstance(concept, list) else [concept]
        for item in concepts:
            for coding in (item or {}).get("coding", []):
                counts[(coding.get("system", ""), coding["code"])] += 1
    return counts


def _of_type(resources: list[JsonObject], resource_type: str) -> list[JsonObject]:
    return [r for r in resources if r["resourceType"] == resource_type]


def _years(resources: Iterable[JsonObject], field: str) -> list[int]:
    years = []
    for resource in resources:
        value = resource.get(field)
        if isinstance(value, dict):
            value = value.get("start")
        if isinstance(value, str):
            years.append(int(value[:4]))
    return sorted(years)


def _median(values: list[int], default: int = 2015) -> int:
    return values[len(values) // 2] if values else default


def patient_searches(patient_id: str, resources: list[JsonObject]) -> Iterator[Search]:
    """About 30 searches over one patient's record, across types and parameters.

    ``ge``/``le`` use day precision: HAPI FHIR 8.8 treats ``ge2024`` and
    ``ge2024-10`` as "after the end of that year/month" (like ``gt``), which
    the FHIR spec does not; our store follows the spec, so partial-precision
    ``ge``/``le`` would differ by design. ``eq``/``lt``/``gt`` agree at any
    precision and are tested that way.
    """

    def search(resource_type: str, *params: tuple[str, str]) -> Search:
        return Search(resource_type, (("patient", patient_id), *params))

    observations = _of_type(resources, "Observation")
    loinc = [code for (system, code), _ in _codes(observations, "code").most_common(3)]
    obs_year = _median(_years(observations, "effectiveDateTime"))
    yield search("Observation")
    yield search("Observation", ("code", f"http://loinc.org|{loinc[0]}"))
    yield Search("Observation", (("subject", f"Patient/{patient_id}"), ("code", loinc[0])))
    yield search("Observation", ("code", ",".join(loinc[:2])), ("date", f"lt{obs_year}-06"))
    yield search("Observation", ("category", "laboratory"))
    yield search(
        "Observation",
        ("category", "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"),
        ("date", f"ge{obs_year}-01-01"),
    )
    yield search("Observation", ("date", f"ge{obs_year}-01-01"), ("date", f"lt{obs_year + 1}"))
    yield search("Observation", ("date", f"eq{obs_year}"))

    conditions = _of_type(resources, "Condition")
    condition_code = _codes(conditions, "code").most_common(1)[0][0][1]
    yield search("Condition", ("clinical-status", "active"))
    yield search("Condition", ("clinical-status", "resolved"))
    yield search("Condition", ("code", f"http://snomed.info/sct|{condition_code}"))
    yield search(
        "Condition", ("onset-date", f"ge{_median(_years(conditions, 'onsetDateTime'))}-01-01")
    )

    requests = _of_type(resources, "MedicationRequest")
    yield search("MedicationRequest", ("status", "active"))
    yield search("MedicationRequest", ("status", "stopped,completed"))
    yield search(
        "MedicationRequest", ("authoredon", f"le{_median(_years(requests, 'authoredOn'))}-12-31")
    )

    encounters = _of_type(resources, "Encounter")
    encounter_type = _codes(encounters, "type").most_common(1)[0][0][1]
    yield search("Encounter", ("date", f"ge{_median(_years(encounters, 'period'))}-07-01"))
    yield search("Encounter", ("type", encounter_type))
    yield search("Encounter", ("class", "http://terminology.hl7.org/CodeSystem/v3-ActCode|AMB"))

    immunizations = _of_type(resources, "Immunization")
    if immunizations:
        vaccine = _codes(immunizations, "vaccineCode").most_common(1)[0][0][1]
        yield search("Immunization", ("vaccine-code", vaccine))
        yield search(
            "Immunization", ("date", f"lt{_median(_years(immunizations, 'occurrenceDateTime'))}")
        )

    procedures = _of_type(resources, "Procedure")
    if procedures:
        procedure_code = _codes(procedures, "code").most_common(1)[0][0][1]
        yield search("Procedure", ("code", procedure_code))
        yield search("Procedure", ("date", f"gt{_median(_years(procedures, 'performedPeriod'))}"))

    reports = _of_type(resources, "DiagnosticReport")
    report_category = _codes(reports, "category").most_common(1)[0][0]
    yield search("DiagnosticReport", ("category", "|".join(report_category)))
    yield search(
        "DiagnosticReport", ("date", f"ge{_median(_years(reports, 'effectiveDateTime'))}-03-15")
    )
    yield search(
        "DocumentReference",
        ("date", f"lt{_median(_years(_of_type(resources, 'DocumentReference'), 'date'))}"),
    )
    yield search("AllergyIntolerance")
    yield search("AllergyIntolerance", ("clinical-status", "active"))
    yield search("CarePlan", ("status", "active"))
    yield search("CareTeam", ("status", "active"))
    yield search(
        "Claim", ("created", f"ge{_median(_years(_of_type(resources, 'Claim'), 'created'))}-01-01")
    )
    yield search("ExplanationOfBenefit")
    yield search("Immunization", ("_id", immunizations[0]["id"] if immunizations else "none"))


def directory_searches(
    patients: list[JsonObject], practitioners: list[JsonObject]
) -> Iterator[Search]:
    """Searches that are not patient-scoped: patients by demographics, practitioners by NPI."""
    first = patients[0]
    family = first["name"][0]["family"]
    yield Search("Patient", (("family", family[:4].lower()),))
    yield Search(
        "Patient", (("gender", first["gender"]), ("birthdate", f"lt{first['birthDate'][:4]}"))
    )
    npi = practitioners[0]["identifier"][0]
    yield Search("Practitioner", (("identifier", f"{npi['system']}|{npi['value']}"),))
