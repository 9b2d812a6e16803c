"""Pure reference rewriting: urn:uuid and conditional references."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fhir_client.loading.errors import DanglingReferenceError
from fhir_client.loading.references import (
    ReferenceTargets,
    conditional_references,
    entry_resource_id,
    identifier_keys,
    parse_conditional_reference,
    rewrite_references,
)

NPI = "http://hl7.org/fhir/sid/us-npi"
PRACTITIONER_REF = f"Practitioner?identifier={NPI}|9999955949"
ORG_REF = "Organization?identifier=https://github.com/synthetichealth/synthea|753f3c32"

ENCOUNTER = {
    "resourceType": "Encounter",
    "id": "enc-1",
    "subject": {"reference": "urn:uuid:pat-1", "display": "Mr. Bob965 Keeling57"},
    "participant": [
        {"individual": {"reference": PRACTITIONER_REF, "display": "Dr. Ronny764 Block661"}}
    ],
    "serviceProvider": {"reference": ORG_REF, "display": "PCP"},
    "contained": [{"resourceType": "Coverage", "id": "coverage"}],
    "insurance": [{"coverage": {"reference": "#coverage"}}],
    "basedOn": [{"reference": "ServiceRequest/already-literal"}],
}


def test_urn_uuid_and_resolved_conditional_references_become_type_id() -> None:
    targets = ReferenceTargets(
        local={"urn:uuid:pat-1": "Patient/pat-1"},
        conditional={PRACTITIONER_REF: "Practitioner/prac-7", ORG_REF: "Organization/753f3c32"},
    )

    result = rewrite_references(ENCOUNTER, targets)

    assert result.unresolved_references == 0
    encounter = result.resource
    assert encounter["subject"] == {"reference": "Patient/pat-1", "display": "Mr. Bob965 Keeling57"}
    assert encounter["participant"][0]["individual"]["reference"] == "Practitioner/prac-7"
    assert encounter["serviceProvider"]["reference"] == "Organization/753f3c32"
    assert encounter["insurance"][0]["coverage"] == {"reference": "#coverage"}
    assert encounter["basedOn"][0] == {"reference": "ServiceRequest/already-literal"}
    # The input is left untouched (the loader may retry or report from it).
    assert ENCOUNTER["subject"]["reference"] == "urn:uuid:pat-1"  # type: ignore[index]


def test_unresolved_conditional_reference_keeps_identifier_and_display() -> None:
    targets = ReferenceTargets(
        local={"urn:uuid:pat-1": "Patient/pat-1"},
        conditional={PRACTITIONER_REF: None, ORG_REF: "Organization/753f3c32"},
    )

    result = rewrite_references(ENCOUNTER, targets)

    assert result.unresolved_references == 1
    assert result.resource["participant"][0]["individual"] == {
        "display": "Dr. Ronny764 Block661",
        "type": "Practitioner",
        "identifier": {"system": NPI, "value": "9999955949"},
    }


def test_a_urn_uuid_pointing_nowhere_is_an_error() -> None:
    targets = ReferenceTargets(local={}, conditional={})
    with pytest.raises(DanglingReferenceError, match="urn:uuid:pat-1"):
        rewrite_references(ENCOUNTER, targets)


def test_conditional_references_are_collected_once_each() -> None:
    resource = {
        "resourceType": "Claim",
        "provider": {"reference": ORG_REF},
        "careTeam": [{"provider": {"reference": PRACTITIONER_REF}}] * 3,
        "patient": {"reference": "urn:uuid:pat-1"},
    }
    assert conditional_references(resource) == {ORG_REF, PRACTITIONER_REF}


def test_parse_conditional_reference() -> None:
    parsed = parse_conditional_reference(PRACTITIONER_REF)
    assert parsed is not None
    assert parsed.resource_type == "Practitioner"
    assert parsed.identifier == (NPI, "9999955949")
    assert parse_conditional_reference("Patient/123") is None
    assert parse_conditional_reference("urn:uuid:abc") is None
    assert parse_conditional_reference("#contained") is None
    other = parse_conditional_reference("Patient?name=smith&birthdate=2000")
    assert other is not None and other.identifier is None


def test_identifier_keys_match_the_conditional_reference_text() -> None:
    practitioner = {
        "resourceType": "Practitioner",
        "id": "prac-7",
        "identifier": [{"system": NPI, "value": "9999955949"}],
    }
    assert identifier_keys(practitioner) == [PRACTITIONER_REF]


def test_entry_resource_id_keeps_synthea_id_or_takes_the_urn() -> None:
    assert entry_resource_id({"fullUrl": "urn:uuid:b", "resource": {"id": "a"}}) == "a"
    assert entry_resource_id({"fullUrl": "urn:uuid:b", "resource": {}}) == "b"
    with pytest.raises(ValueError, match="no id"):
        entry_resource_id({"fullUrl": "http://x/Patient/1", "resource": {}})


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
json_tree = st.recursive(
    json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "reference", "display"]), children, max_size=3),
    ),
    max_leaves=20,
)


@given(json_tree)
def test_rewriting_without_bundle_references_changes_nothing(tree: object) -> None:
    """Anything that is not a urn:uuid or conditional reference passes through as it was."""
    references = set()

    def collect(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("reference"), str):
                references.add(node["reference"])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    collect(tree)
    targets = ReferenceTargets(local={}, conditional={})
    if any(r.startswith("urn:uuid:") or parse_conditional_reference(r) for r in references):
        return
    assert rewrite_references({"resourceType": "Basic", "x": tree}, targets).resource == {
        "resourceType": "Basic",
        "x": tree,
    }
