"""Which resources make up a patient's record: the R4 Patient compartment, and the
index parameter that holds every reference a resource makes.

Why apart from :mod:`fhir_client.embedded.registry`: listing patients with the size
of their records (``ehr-agent patients``, :mod:`fhir_client.directory`) and reading a
record (``$everything``) need only these two facts, not the search parameter
definitions, whose table costs start-up to build (``bench/startup.py``).
"""

from __future__ import annotations

__all__ = ["ALL_REFERENCES", "PATIENT_COMPARTMENT"]

#: `ALL_REFERENCES` holds every reference in the resource, used by $everything
#: to find the Practitioners, Organizations... a patient's resources point at.
ALL_REFERENCES = "_ref"

#: R4 CompartmentDefinition "Patient", limited to the parameters we index: the
#: parameters whose Patient target makes a resource part of a patient's record.
PATIENT_COMPARTMENT: dict[str, tuple[str, ...]] = {
    "Patient": (),
    "Encounter": ("patient",),
    "Observation": ("subject", "performer"),
    "Condition": ("patient", "asserter"),
    "MedicationRequest": ("subject",),
    "MedicationAdministration": ("patient", "subject"),
    "Procedure": ("patient",),
    "Immunization": ("patient",),
    "AllergyIntolerance": ("patient",),
    "DiagnosticReport": ("subject",),
    "DocumentReference": ("subject", "author"),
    "CarePlan": ("patient",),
    "CareTeam": ("patient", "participant"),
    "Goal": ("patient",),
    "ImagingStudy": ("patient",),
    "Device": ("patient",),
    "SupplyDelivery": ("patient",),
    "Claim": ("patient",),
    "ExplanationOfBenefit": ("patient",),
    "Provenance": ("patient",),
    "Coverage": ("patient", "subscriber", "beneficiary", "payor"),
}
