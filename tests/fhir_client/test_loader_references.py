"""Pure reference rewriting: urn:uuid and conditional references."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fhir_client._depth import JsonTooDeep, check_depth
from fhir_client.limits import MAX_JSON_DEPTH
from fhir_client.loading.errors import DanglingReferenceError
from fhir_client.loading.references import (
    ReferenceTargets,
    conditional_displays,
    conditional_reference_displays,
    conditional_references,
    entry_resource_id,
    find_references,
    identifier_keys,
    parse_conditional_reference,
    rewrite_found_references,
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


# --- the single-walk rewrite matches the original copy-everything rewrite --------------

_URN_PAT = "urn:uuid:pat-1"
_URN_DANGLING = "urn:uuid:nowhere"
_SAMPLE_TARGETS = ReferenceTargets(
    local={_URN_PAT: "Patient/pat-1"},
    conditional={PRACTITIONER_REF: "Practitioner/prac-7", ORG_REF: None},
)


def _oracle_rewrite(node: object, targets: ReferenceTargets, unresolved: list[int]) -> object:
    """The rewrite as first written: copy every node, bottom-up (kept as a test oracle)."""
    if isinstance(node, list):
        return [_oracle_rewrite(item, targets, unresolved) for item in node]
    if not isinstance(node, dict):
        return node
    copied = {key: _oracle_rewrite(value, targets, unresolved) for key, value in node.items()}
    reference = copied.get("reference")
    if not isinstance(reference, str):
        return copied
    if reference.startswith("urn:uuid:"):
        target = targets.local.get(reference)
        if target is None:
            raise DanglingReferenceError(reference)
        return {**copied, "reference": target}
    conditional = parse_conditional_reference(reference)
    if conditional is None:
        return copied
    resolved = targets.conditional.get(reference)
    if resolved is not None:
        return {**copied, "reference": resolved}
    unresolved[0] += 1
    replacement = {k: v for k, v in copied.items() if k not in {"reference", "type", "identifier"}}
    replacement["type"] = conditional.resource_type
    assert conditional.identifier is not None
    system, value = conditional.identifier
    replacement["identifier"] = {"system": system, "value": value}
    return replacement


_reference_values = st.sampled_from(
    [
        _URN_PAT,
        _URN_DANGLING,
        "urn:uuid:gone-2",
        PRACTITIONER_REF,
        ORG_REF,
        "#contained",
        "Patient/literal",
    ]
)
_leaves = st.one_of(st.none(), st.integers(), st.text(max_size=3), _reference_values)
_trees = st.recursive(
    _leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(["a", "reference", "display", "identifier", "type"]),
            children,
            max_size=4,
        ),
    ),
    max_leaves=25,
)


@given(_trees)
def test_single_walk_rewrite_matches_the_copying_rewrite(tree: object) -> None:
    """Same output, same unresolved count, same first dangling reference, input untouched."""
    resource = {"resourceType": "Basic", "x": tree}
    snapshot = copy.deepcopy(resource)
    unresolved = [0]
    try:
        expected: object = _oracle_rewrite(resource, _SAMPLE_TARGETS, unresolved)
    except DanglingReferenceError as error:
        expected = error.reference
    try:
        result = rewrite_references(resource, _SAMPLE_TARGETS)
        got: object = result.resource
        assert result.unresolved_references == unresolved[0]
    except DanglingReferenceError as error:
        got = error.reference
    assert got == expected
    assert resource == snapshot

    # The loader's in-place path, on a copy it owns, gives the same answer.
    owned = copy.deepcopy(resource)
    sites = find_references(owned)
    assert conditional_displays(sites) == conditional_reference_displays(resource)
    try:
        in_place: object = rewrite_found_references(owned, sites, _SAMPLE_TARGETS).resource
    except DanglingReferenceError as error:
        in_place = error.reference
    assert in_place == expected


def test_a_reference_on_the_resource_itself_is_replaced_whole() -> None:
    resource = {"resourceType": "Basic", "reference": ORG_REF, "display": "PCP"}
    owned = copy.deepcopy(resource)

    result = rewrite_found_references(owned, find_references(owned), _SAMPLE_TARGETS)

    assert result.unresolved_references == 1
    assert result.resource == rewrite_references(resource, _SAMPLE_TARGETS).resource
    assert "reference" not in result.resource


@pytest.mark.parametrize("levels", [1, 2, 5, 63, 64, 65, 70])
@pytest.mark.parametrize("container", ["list", "dict"])
def test_the_reference_walk_refuses_exactly_what_check_depth_refuses(
    levels: int, container: str
) -> None:
    """Pass one's depth check rides on this walk, so the two bounds must agree."""
    leaf: object = {"reference": "Patient/1"}
    for _ in range(levels - 1):
        leaf = [leaf] if container == "list" else {"x": leaf}
    resource = {"resourceType": "Basic", "nested": leaf}
    try:
        check_depth(resource, MAX_JSON_DEPTH)
        expected_ok = True
    except JsonTooDeep:
        expected_ok = False
    try:
        sites = find_references(resource, depth_limit=MAX_JSON_DEPTH)
    except JsonTooDeep:
        assert not expected_ok
    else:
        assert expected_ok
        assert [site.reference for site in sites] == ["Patient/1"]
