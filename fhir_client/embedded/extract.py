"""Turn one resource's JSON into search-index rows, following the registry paths.

Extraction works on plain dicts (no model objects): validating every resource
with fhir.resources would cost more than the whole insert, and the loader has
already validated what it sends. Unknown shapes are skipped, never fatal, so
one odd element cannot block a patient's load.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from fhir_client.embedded.compartment import ALL_REFERENCES as ALL_REFERENCES
from fhir_client.embedded.compartment import PATIENT_COMPARTMENT
from fhir_client.embedded.dates import DateRange, index_value
from fhir_client.embedded.registry import ParamKind, SearchParam, params_for
from fhir_client.embedded.text_search import normalize_string as normalize_string
from fhir_client.ids import split_reference


@dataclass(slots=True)
class IndexRows:
    """Every index row of one resource, ready for executemany."""

    tokens: list[tuple[str, str, str]] = field(default_factory=list)  # param, system, code
    refs: list[tuple[str, str, str]] = field(default_factory=list)  # param, type, id
    dates: list[tuple[str, DateRange]] = field(default_factory=list)  # param, range
    strings: list[tuple[str, str, str]] = field(default_factory=list)  # param, norm, exact
    patient_id: str | None = None


def parse_reference(reference: str) -> tuple[str, str] | None:
    """`Patient/1`, `Patient/1/_history/2` or `http://x/fhir/Patient/1` -> (type, id).

    Conditional (`Practitioner?identifier=...`), `urn:uuid:` and contained (`#x`)
    references do not name a stored resource and return None.
    """
    if "?" in reference or reference.startswith(("#", "urn:")):
        return None
    return split_reference(reference)


def values_at(node: Any, path: tuple[str, ...]) -> Iterator[Any]:
    """Yield every value at `path`, flattening lists and expanding `name[x]`."""
    if not path:
        if isinstance(node, list):
            yield from node
        else:
            yield node
        return
    if isinstance(node, list):
        for item in node:
            yield from values_at(item, path)
        return
    if not isinstance(node, dict):
        return
    head, rest = path[0], path[1:]
    if head.endswith("[x]"):
        prefix = head[:-3]
        size = len(prefix)
        for key, value in node.items():
            if key.startswith(prefix) and len(key) > size and key[size].isupper():
                yield from values_at(value, rest)
    elif head in node:
        yield from values_at(node[head], rest)


def _tokens(value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield "", value
    elif isinstance(value, bool):
        yield "", "true" if value else "false"
    elif isinstance(value, dict):
        if "coding" in value:  # CodeableConcept
            for coding in value["coding"]:
                if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                    yield coding.get("system") or "", coding["code"]
        elif isinstance(value.get("code"), str):  # Coding
            yield value.get("system") or "", value["code"]
        elif isinstance(value.get("value"), str):  # Identifier
            yield value.get("system") or "", value["value"]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):  # HumanName or Address: every part, as HAPI
        for key in ("text", "family", "given", "prefix", "suffix", "line", "city"):
            yield from _strings_list(value.get(key))
        for key in ("district", "state", "postalCode", "country"):
            yield from _strings_list(value.get(key))


def _strings_list(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        yield from (v for v in value if isinstance(v, str))


def _add(rows: IndexRows, param: SearchParam, value: Any) -> None:
    if param.kind is ParamKind.TOKEN:
        rows.tokens.extend((param.name, system, code) for system, code in _tokens(value))
    elif param.kind is ParamKind.REFERENCE:
        if isinstance(value, dict) and isinstance(value.get("reference"), str):
            target = parse_reference(value["reference"])
            if target and (not param.targets or target[0] in param.targets):
                rows.refs.append((param.name, target[0], target[1]))
    elif param.kind is ParamKind.DATE:
        date = index_value(value)
        if date is not None:
            rows.dates.append((param.name, date))
    else:
        rows.strings.extend((param.name, normalize_string(s), s) for s in _strings(value))


_REFERENCE_IN_JSON = re.compile(r'"reference":\s*"([^"\\]+)"')


def all_references(json_text: str) -> list[tuple[str, str, str]]:
    """Every resolvable reference in a resource's JSON text, for $everything.

    A regex over the text we serialise anyway is several times faster than
    walking the dict, and a reference is always the string value of a
    `reference` key.
    """
    found: dict[tuple[str, str, str], None] = {}
    for value in _REFERENCE_IN_JSON.findall(json_text):
        target = parse_reference(value)
        if target:
            found[(ALL_REFERENCES, target[0], target[1])] = None
    return list(found)


@cache
def _plan(resource_type: str) -> list[tuple[SearchParam, tuple[str, ...]]]:
    return [(p, path) for p in params_for(resource_type).values() for path in p.paths]


def extract(resource: dict[str, Any]) -> IndexRows:
    """All index rows of a resource plus the patient whose compartment owns it."""
    rtype = resource["resourceType"]
    rows = IndexRows()
    for param, path in _plan(rtype):
        if path[0] in resource or path[0].endswith("[x]"):
            for value in values_at(resource, path):
                _add(rows, param, value)
    rows.refs = list(dict.fromkeys(rows.refs))
    rows.tokens = list(dict.fromkeys(rows.tokens))
    rows.strings = list(dict.fromkeys(rows.strings))
    if rtype == "Patient":
        rows.patient_id = resource["id"]
    else:
        owners = PATIENT_COMPARTMENT.get(rtype, ())
        for name, target_type, target_id in rows.refs:
            if name in owners and target_type == "Patient":
                rows.patient_id = target_id
                break
    return rows
