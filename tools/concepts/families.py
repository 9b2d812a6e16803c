"""Resource families: how a concept's matches are grouped, named and counted.

A family is what a clinician would call the kind of thing ("medication orders", "lab
results"); each maps to the FHIR types that hold it and to the tool that lists it, so an
answer can say "among 312 medication requests" and a planner can pick the tool.
"""

from __future__ import annotations

from typing import Literal, get_args

from tools.declare import ToolName

__all__ = ["FAMILIES", "FAMILY_NOUNS", "FAMILY_TOOLS", "FAMILY_TYPES", "FAMILY_WORDS", "Family"]

Family = Literal[
    "conditions",
    "social_history",
    "medications",
    "labs",
    "vitals",
    "surveys",
    "observations",
    "procedures",
    "immunizations",
    "encounters",
    "allergies",
    "care_plans",
    "diagnostic_reports",
    "notes",
    "goals",
    "devices",
    "imaging",
    "supplies",
]
FAMILIES: tuple[Family, ...] = get_args(Family)

#: The FHIR types a family's resources are counted in ("among N ...").
FAMILY_TYPES: dict[Family, tuple[str, ...]] = {
    "conditions": ("Condition",),
    "social_history": ("Condition", "Observation"),
    "medications": (
        "MedicationRequest",
        "MedicationStatement",
        "MedicationAdministration",
        "MedicationDispense",
    ),
    "labs": ("Observation",),
    "vitals": ("Observation",),
    "surveys": ("Observation",),
    "observations": ("Observation",),
    "procedures": ("Procedure",),
    "immunizations": ("Immunization",),
    "encounters": ("Encounter",),
    "allergies": ("AllergyIntolerance",),
    "care_plans": ("CarePlan", "CareTeam"),
    "diagnostic_reports": ("DiagnosticReport",),
    "notes": ("DocumentReference",),
    "goals": ("Goal",),
    "devices": ("Device",),
    "imaging": ("ImagingStudy",),
    "supplies": ("SupplyDelivery",),
}

#: How an answer names a family's records, plural ("No statin among 40 medication orders").
FAMILY_NOUNS: dict[Family, str] = {
    "conditions": "conditions",
    "social_history": "social history findings",
    "medications": "medication orders",
    "labs": "lab results",
    "vitals": "vital sign measurements",
    "surveys": "questionnaire scores",
    "observations": "observations",
    "procedures": "procedures",
    "immunizations": "immunizations",
    "encounters": "encounters",
    "allergies": "allergies",
    "care_plans": "care plans",
    "diagnostic_reports": "diagnostic reports",
    "notes": "clinical notes",
    "goals": "goals",
    "devices": "devices",
    "imaging": "imaging studies",
    "supplies": "supply deliveries",
}

#: The tool that lists a family (None: only the concept and record searches reach it).
FAMILY_TOOLS: dict[Family, ToolName | None] = {
    "conditions": "conditions",
    "social_history": "conditions",
    "medications": "medications",
    "labs": "lab_results",
    "vitals": "vital_signs",
    "surveys": "lab_results",
    "observations": "lab_results",
    "procedures": "procedures",
    "immunizations": "immunizations",
    "encounters": "encounters",
    "allergies": "allergies",
    "care_plans": "care_plans",
    "diagnostic_reports": None,
    "notes": "clinical_notes",
    "goals": "goals",
    "devices": None,
    "imaging": None,
    "supplies": None,
}

#: Words that name a family rather than a concept ("statin meds", "covid vaccine",
#: "ER visits"): they narrow the search to that family and are not matched as words.
FAMILY_WORDS: dict[str, tuple[Family, ...]] = {
    **dict.fromkeys(
        (
            *("visit", "visits", "encounter", "encounters", "appointment", "appointments"),
            *("stay", "attendance", "attendances"),
        ),
        ("encounters",),
    ),
    **dict.fromkeys(
        (
            "med",
            "meds",
            "medication",
            "medications",
            "medicine",
            "medicines",
            "drug",
            "drugs",
            "prescription",
            "prescriptions",
            "prescribed",
            "pill",
            "pills",
            "tablet",
            "tablets",
        ),
        ("medications",),
    ),
    **dict.fromkeys(("lab", "labs", "bloods", "bloodwork"), ("labs",)),
    **dict.fromkeys(
        (
            "vaccine",
            "vaccines",
            "vaccination",
            "vaccinations",
            "vaccinated",
            "immunization",
            "immunizations",
            "immunized",
            "immunised",
            "shot",
            "shots",
            "jab",
            "jabs",
        ),
        ("immunizations",),
    ),
    **dict.fromkeys(
        (
            *("diagnosis", "diagnoses", "problem", "problems", "condition", "conditions"),
            *("issue", "issues", "trouble", "troubles"),
        ),
        ("conditions", "social_history"),
    ),
    **dict.fromkeys(("procedure", "procedures"), ("procedures",)),
    **dict.fromkeys(("imaging", "scan", "scans"), ("imaging",)),
    **dict.fromkeys(("careplan", "careplans"), ("care_plans",)),
}
