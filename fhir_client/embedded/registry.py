"""The search parameters the embedded store indexes, per resource type.

This is our cut-down equivalent of FHIR R4's SearchParameter resources: each
entry names a standard R4 parameter, its kind and the element paths its R4
FHIRPath expression reads. Names and meanings follow R4 exactly, because a
conformance suite runs the same searches against HAPI FHIR and demands the same
ids. Anything not listed here is refused with a 400 rather than ignored, since a
silently ignored filter returns a wrong (too large) answer.

Path syntax: dot-separated element names; `name[x]` matches every choice
variant (`effective[x]` -> effectiveDateTime, effectivePeriod...). Lists are
flattened at each step. `targets` restricts a reference to target types, which
is how `Observation.subject.where(resolve() is Patient)` is expressed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fhir_client.embedded.compartment import PATIENT_COMPARTMENT as PATIENT_COMPARTMENT
from fhir_client.embedded.errors import UnknownResourceType


class ParamKind(StrEnum):
    """The FHIR search parameter types we support."""

    TOKEN = "token"
    REFERENCE = "reference"
    DATE = "date"
    STRING = "string"


@dataclass(frozen=True, slots=True)
class SearchParam:
    """One search parameter of one resource type."""

    name: str
    kind: ParamKind
    paths: tuple[tuple[str, ...], ...]
    expression: str
    targets: tuple[str, ...] = ()


def _param(
    kind: ParamKind, name: str, rtype: str, *paths: str, targets: tuple[str, ...] = ()
) -> SearchParam:
    expression = " | ".join(f"{rtype}.{p.replace('[x]', '')}" for p in paths)
    if targets:
        expression += f" (where resolve() is {' or '.join(targets)})"
    return SearchParam(name, kind, tuple(tuple(p.split(".")) for p in paths), expression, targets)


_T, _R, _D, _S = ParamKind.TOKEN, ParamKind.REFERENCE, ParamKind.DATE, ParamKind.STRING
_PATIENT = ("Patient",)

# type -> list of (kind, name, paths..., targets)
_SPEC: dict[str, list[tuple[ParamKind, str, tuple[str, ...], tuple[str, ...]]]] = {
    "Patient": [
        (_S, "name", ("name",), ()),
        (_S, "family", ("name.family",), ()),
        (_S, "given", ("name.given",), ()),
        (_T, "gender", ("gender",), ()),
        (_D, "birthdate", ("birthDate",), ()),
        (_S, "address", ("address",), ()),
        (_S, "address-city", ("address.city",), ()),
        (_S, "address-state", ("address.state",), ()),
        (_S, "address-postalcode", ("address.postalCode",), ()),
        (_R, "general-practitioner", ("generalPractitioner",), ()),
        (_R, "organization", ("managingOrganization",), ()),
    ],
    "Practitioner": [
        (_S, "name", ("name",), ()),
        (_S, "family", ("name.family",), ()),
        (_S, "given", ("name.given",), ()),
        (_T, "gender", ("gender",), ()),
    ],
    "PractitionerRole": [
        (_R, "practitioner", ("practitioner",), ()),
        (_R, "organization", ("organization",), ()),
        (_R, "location", ("location",), ()),
        (_T, "role", ("code",), ()),
        (_T, "specialty", ("specialty",), ()),
    ],
    "Organization": [(_S, "name", ("name",), ()), (_T, "type", ("type",), ())],
    "Location": [
        (_S, "name", ("name",), ()),
        (_R, "organization", ("managingOrganization",), ()),
        (_S, "address-city", ("address.city",), ()),
    ],
    "Medication": [(_T, "code", ("code",), ()), (_T, "status", ("status",), ())],
    "Encounter": [
        (_R, "patient", ("subject",), _PATIENT),
        (_R, "subject", ("subject",), ()),
        (_D, "date", ("period",), ()),
        (_T, "status", ("status",), ()),
        (_T, "class", ("class",), ()),
        (_T, "type", ("type",), ()),
        (_T, "reason-code", ("reasonCode",), ()),
        (_R, "participant", ("participant.individual",), ()),
        (_R, "practitioner", ("participant.individual",), ("Practitioner",)),
        (_R, "service-provider", ("serviceProvider",), ()),
        (_R, "location", ("location.location",), ()),
    ],
    "Observation": [
        (_R, "patient", ("subject",), _PATIENT),
        (_R, "subject", ("subject",), ()),
        (_R, "encounter", ("encounter",), ()),
        (_R, "performer", ("performer",), ()),
        (_T, "code", ("code",), ()),
        (_T, "category", ("category",), ()),
        (_T, "status", ("status",), ()),
        (_T, "component-code", ("component.code",), ()),
        (_T, "combo-code", ("code", "component.code"), ()),
        (_T, "value-concept", ("valueCodeableConcept",), ()),
        (_D, "date", ("effective[x]",), ()),
    ],
    "Condition": [
        (_R, "patient", ("subject",), _PATIENT),
        (_R, "subject", ("subject",), ()),
        (_R, "encounter", ("encounter",), ()),
        (_R, "asserter", ("asserter",), ()),
        (_T, "code", ("code",), ()),
        (_T, "category", ("category",), ()),
        (_T, "clinical-status", ("clinicalStatus",), ()),
        (_T, "verification-status", ("verificationStatus",), ()),
        (_T, "severity", ("severity",), ()),
        (_D, "onset-date", ("onsetDateTime", "onsetPeriod"), ()),
        (_D, "abatement-date", ("abatementDateTime", "abatementPeriod"), ()),
        (_D, "recorded-date", ("recordedDate",), ()),
    ],
    "MedicationRequest": [
        (_R, "patient", ("subject",), _PATIENT),
        (_R, "subject", ("subject",), ()),
        (_R, "encounter", ("encounter",), ()),
        (_R, "requester", ("requester",), ()),
        (_R, "medication", ("medicationReference",), ()),
        (_T, "code", ("medicationCodeableConcept",), ()),
        (_T, "status", ("status",), ()),
        (_T, "intent", ("intent",), ()),
        (_T, "category", ("category",), ()),
        (_D, "authoredon", ("authoredOn",), ()),
    ],
    "MedicationAdministration": [
        (_R, "patient", ("subject",), _PATIENT),
        (_R, "subject", ("subject",), ()),
        (_R, "context", ("context",), ()),
        (_R, "medication", ("medicationReference",), ()),
        (_T, "code", ("medicationCodeableConcept",), ()),
        (_T, "status", ("status",), ()),
        (_D, "effective-time", ("effective[x]",), ()),
    ],
    "Procedure": [
        (_R, "patient", ("subject",), _PATIENT),
        (_R, "subject", ("subject",), ()),
        (_R, "encounter", ("encounter",), ()),
        (_T, "code", ("code",), ()),
        (_T, "status", ("status",), ()),
        (_T, "category", ("category",), ()),
        (_D, "date", ("performed[x]",), ()),
    ],
    "Immunization": [
        (_R, "patient", ("patient",), ()),
        (_T, "vaccine-code", ("vaccineCode",), ()),
        (_T, "status", ("status",), ()),
        (_D, "date", ("occurrence[x]",), ()),
    ],
    "AllergyIntolerance": [
        (_R, "patient", ("patient",), ()),
        (_T, "code", ("code", "reaction.substance"), ()),
        (_T, "clinical-status", ("clinicalStatus",), ()),
        (_T, "verification-status", ("verificationStatus",), ()),
        (_T, "category", ("category",), ()),
        (_T, "criticality", ("criticality",), ()),
        (_T, "type", ("type",), ()),
        (_D, "date", ("recordedDate",), ()),
    ],
    "DiagnosticReport": [
        (_R, "patient", ("subject",), _PATIENT),
        (_R, "subject", ("subject",), ()),
        (_R, "encounter", ("encounter",), ()),
        (_R, "result", ("result",), ()),
        (_R, "performer", ("performer",), ()),
        (_T, "code", ("code",), ()),
        (_T, "category", ("category",), ()),
        (_T, "status", ("status",), ()),
        (_D, "date", ("effective[x]",), ()),
        (_D, "issued", ("issued",), ()),
    ],
    "DocumentReference": [
        (_R, "patient", ("subject",), _PATIENT),
        (_R, "subject", ("subject",), ()),
        (_R, "encounter", ("context.encounter",), ()),
        (_R, "author", ("author",), ()),
        (_T, "type", ("type",), ()),
        (_T, "category", ("category",), ()),
        (_T, "status", ("status",), ()),
        (_D, "date", ("date",), ()),
        (_D, "period", ("context.period",), ()),
    ],
    "CarePlan": [
        (_R, "patient", ("subject",), _PATIENT),
        (_R, "subject", ("subject",), ()),
        (_R, "encounter", ("encounter",), ()),
        (_T, "category", ("category",), ()),
        (_T, "status", ("status",), ()),
        (_T, "intent", ("intent",), ()),
        (_T, "activity-code", ("activity.detail.code",), ()),
        (_D, "date", ("period",), ()),
    ],
    "CareTeam": [
        (_R, "patient", ("subject",), _PATIENT),
        (_R, "subject", ("subject",), ()),
        (_R, "encounter", ("encounter",), ()),
        (_R, "participant", ("participant.member",), ()),
        (_T, "category", ("category",), ()),
        (_T, "status", ("status",), ()),
        (_D, "date", ("period",), ()),
    ],
    "Goal": [
        (_R, "patient", ("subject",), _PATIENT),
        (_R, "subject", ("subject",), ()),
        (_T, "lifecycle-status", ("lifecycleStatus",), ()),
        (_T, "achievement-status", ("achievementStatus",), ()),
        (_T, "category", ("category",), ()),
        (_D, "start-date", ("startDate",), ()),
        (_D, "target-date", ("target.dueDate",), ()),
    ],
    "ImagingStudy": [
        (_R, "patient", ("subject",), _PATIENT),
        (_R, "subject", ("subject",), ()),
        (_R, "encounter", ("encounter",), ()),
        (_T, "status", ("status",), ()),
        (_T, "modality", ("series.modality",), ()),
        (_D, "started", ("started",), ()),
    ],
    "Device": [
        (_R, "patient", ("patient",), ()),
        (_T, "status", ("status",), ()),
        (_T, "type", ("type",), ()),
    ],
    "SupplyDelivery": [
        (_R, "patient", ("patient",), ()),
        (_T, "status", ("status",), ()),
    ],
    "Claim": [
        (_R, "patient", ("patient",), ()),
        (_R, "provider", ("provider",), ()),
        (_R, "encounter", ("item.encounter",), ()),
        (_T, "status", ("status",), ()),
        (_T, "use", ("use",), ()),
        (_D, "created", ("created",), ()),
    ],
    "ExplanationOfBenefit": [
        (_R, "patient", ("patient",), ()),
        (_R, "provider", ("provider",), ()),
        (_R, "claim", ("claim",), ()),
        (_R, "coverage", ("insurance.coverage",), ()),
        (_T, "status", ("status",), ()),
        (_D, "created", ("created",), ()),
    ],
    "Provenance": [
        (_R, "patient", ("target",), _PATIENT),
        (_R, "target", ("target",), ()),
        (_R, "agent", ("agent.who",), ()),
        (_D, "recorded", ("recorded",), ()),
    ],
    "Coverage": [
        (_R, "patient", ("beneficiary",), ()),
        (_R, "beneficiary", ("beneficiary",), ()),
        (_R, "payor", ("payor",), ()),
        (_R, "subscriber", ("subscriber",), ()),
        (_T, "status", ("status",), ()),
        (_T, "type", ("type",), ()),
    ],
}

#: Types we store and read but index only with the common parameters. Synthea
#: emits some of them in other module configurations.
_PLAIN_TYPES = (
    "MedicationStatement",
    "MedicationDispense",
    "ServiceRequest",
    "Media",
    "Specimen",
    "RelatedPerson",
    "Group",
    "Composition",
    "FamilyMemberHistory",
    "Questionnaire",
    "QuestionnaireResponse",
    "Appointment",
    "Consent",
    "RiskAssessment",
    "Basic",
)


def _build() -> dict[str, dict[str, SearchParam]]:
    registry: dict[str, dict[str, SearchParam]] = {}
    for rtype in [*_SPEC, *_PLAIN_TYPES]:
        params = {"identifier": _param(_T, "identifier", rtype, "identifier")}
        for kind, name, paths, targets in _SPEC.get(rtype, []):
            params[name] = _param(kind, name, rtype, *paths, targets=targets)
        registry[rtype] = params
    return registry


#: resource type -> parameter name -> definition.
REGISTRY: dict[str, dict[str, SearchParam]] = _build()

#: Parameters every type accepts that are answered from the resource table itself.
SPECIAL_PARAMS = ("_id", "_lastUpdated")

#: Result-shaping parameters (not filters) the facade accepts.
RESULT_PARAMS = (
    "_count",
    "_offset",
    "_sort",
    "_summary",
    "_total",
    "_totalMethod",
    "_format",
    "_elements",
    "_include",
    "_revinclude",
)


def params_for(resource_type: str) -> dict[str, SearchParam]:
    """The search parameters of a type; KeyError for a type we do not store."""
    return REGISTRY[resource_type]


def date_params(resource_type: str) -> list[str]:
    """Names of a type's date parameters, the ones `_sort` accepts."""
    return [p.name for p in REGISTRY[resource_type].values() if p.kind is ParamKind.DATE]


def check_type(resource_type: str) -> None:
    """Raise UnknownResourceType unless the store holds this type."""
    if resource_type not in REGISTRY:
        raise UnknownResourceType(
            f"Unknown resource type {resource_type!r}. Supported types: "
            + ", ".join(sorted(REGISTRY))
        )
