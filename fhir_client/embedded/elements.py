"""``_elements``: return only the named top-level elements of each matched resource.

As R4 asks, the result keeps ``resourceType``, ``id`` and ``meta`` and is marked with
the ``SUBSETTED`` tag, so a client never mistakes the subset for the whole resource
(and never writes it back). Names may be given plain (``code``) or with the type
(``Observation.code``), as HAPI accepts; a choice element is named without its
type suffix (``value`` selects ``valueQuantity``). Only requests that ask for a
subset pay for parsing the stored JSON (orjson: about 4x faster than the stdlib here).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from fhir_client.embedded.errors import SearchError
from fhir_client.limits import MAX_ELEMENTS

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "subsetted",
}
_ALWAYS = ("resourceType", "id", "meta")
_NAME = re.compile(r"^[a-z][A-Za-z0-9]*$")
#: R4 data types a choice element ``name[x]`` can take: ``valueQuantity`` is ``value``,
#: but ``statusReason`` is not ``status``.
_CHOICE_TYPES = frozenset(
    [
        "Base64Binary",
        "Boolean",
        "Canonical",
        "Code",
        "Date",
        "DateTime",
        "Decimal",
        "Id",
        "Instant",
        "Integer",
        "Markdown",
        "Oid",
        "PositiveInt",
        "String",
        "Time",
        "UnsignedInt",
        "Uri",
        "Url",
        "Uuid",
        "Address",
        "Age",
        "Annotation",
        "Attachment",
        "CodeableConcept",
        "Coding",
        "ContactPoint",
        "Count",
        "Distance",
        "Duration",
        "HumanName",
        "Identifier",
        "Money",
        "Period",
        "Quantity",
        "Range",
        "Ratio",
        "Reference",
        "SampledData",
        "Signature",
        "Timing",
        "ContactDetail",
        "Contributor",
        "DataRequirement",
        "Expression",
        "ParameterDefinition",
        "RelatedArtifact",
        "TriggerDefinition",
        "UsageContext",
        "Dosage",
        "Meta",
    ]
)


def parse_elements(resource_type: str, raw: str) -> tuple[str, ...]:
    """Element names from an ``_elements`` value; SearchError for a malformed one."""
    names: list[str] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        name = item.removeprefix(f"{resource_type}.")
        if name.startswith("-"):
            raise SearchError(
                f"_elements item {item!r} excludes an element, which R4 _elements does not "
                "define (HAPI's extension); name the elements to keep, or use _summary=data "
                "to leave out text"
            )
        if not _NAME.match(name):
            raise SearchError(
                f"_elements item {item!r} is not a top-level element name of {resource_type}: "
                "FHIR R4 _elements names base (top-level) elements only, so nested paths are "
                "not supported; ask for the parent (e.g. _elements=code,value) and read the "
                "part you need from it"
            )
        names.append(name)
    if len(names) > MAX_ELEMENTS:
        raise SearchError(f"_elements lists {len(names)} names; at most {MAX_ELEMENTS}")
    return tuple(dict.fromkeys(names))


def _selected(key: str, names: tuple[str, ...]) -> bool:
    if key in names or key in _ALWAYS:
        return True
    # valueQuantity is selected by `value`: a choice element's name plus a type name.
    return any(key.startswith(name) and key[len(name) :] in _CHOICE_TYPES for name in names)


def subset(resource: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The resource cut down to ``names`` (plus the mandatory keys), tagged SUBSETTED."""
    return mark_subsetted({key: value for key, value in resource.items() if _selected(key, names)})


def mark_subsetted(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` with the SUBSETTED tag in its meta (once): it is not the whole resource."""
    meta = dict(resource.get("meta") or {})
    tags = [t for t in meta.get("tag") or [] if t.get("code") != "SUBSETTED"]
    meta["tag"] = [*tags, SUBSETTED]
    return {**resource, "meta": meta}


def subset_text(text: str, names: tuple[str, ...]) -> str:
    """``subset`` over stored JSON text (the form searches and reads carry)."""
    if not names:
        return text
    return orjson.dumps(subset(orjson.loads(text), names)).decode()
