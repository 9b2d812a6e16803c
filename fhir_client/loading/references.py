"""Rewrite Synthea's bundle-local references into ids every server understands.

Synthea links resources inside a patient bundle with ``urn:uuid:`` fullUrls
and links to practitioners, organisations and locations with conditional
references (``Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|999...``).
We load resources with ``PUT Type/id`` so their ids stay exactly as Synthea
wrote them (a citation names the same resource on every server), which means
we, not the server, must turn both forms into plain ``Type/id`` references.

Decisions:

- A ``urn:uuid:`` naming no entry of the bundle is an error
  (:class:`DanglingReferenceError`): the uuid carries no information to keep,
  and a Synthea bundle is self-contained, so the file is damaged.
- A conditional reference that cannot be resolved (its practitioner bundle
  was never loaded, or several resources match) becomes a *logical*
  reference: ``{"type": ..., "identifier": {...}, "display": ...}`` without
  the ``reference`` key. That is valid FHIR, every server accepts it, and it
  keeps who the practitioner was. It is counted, never fatal.
- ``#contained`` and already-literal ``Type/id`` references are left alone.

Everything here is pure: resolution against a server happens in the loader,
which hands the answers in as a mapping.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fhir_client.loading.errors import DanglingReferenceError

JsonObject = dict[str, Any]

_URN_UUID = "urn:uuid:"


@dataclass(frozen=True)
class ConditionalReference:
    """A parsed ``Type?param=value`` reference."""

    text: str
    resource_type: str
    params: tuple[tuple[str, str], ...]

    @property
    def identifier(self) -> tuple[str, str] | None:
        """``(system, value)`` when this is the single ``identifier=system|value`` form."""
        if len(self.params) != 1 or self.params[0][0] != "identifier":
            return None
        system, separator, value = self.params[0][1].partition("|")
        if not separator:
            return ("", system)
        return (system, value)


def parse_conditional_reference(reference: str) -> ConditionalReference | None:
    """Return the parsed form of ``Type?query``, or ``None`` for any other reference."""
    resource_type, separator, query = reference.partition("?")
    if not separator or not resource_type.isalpha() or not resource_type[:1].isupper():
        return None
    params = tuple(parse_qsl(query, keep_blank_values=True))
    if not params:
        return None
    return ConditionalReference(reference, resource_type, params)


def identifier_key(resource_type: str, system: str, value: str) -> str:
    """The canonical conditional-reference text for one identifier.

    Used to index resources we load by identifier so a later bundle's
    conditional reference can be matched without asking the server.
    """
    return (
        f"{resource_type}?identifier={system}|{value}"
        if system
        else (f"{resource_type}?identifier={value}")
    )


def identifier_keys(resource: Mapping[str, Any]) -> list[str]:
    """Every conditional-reference text that would select ``resource``."""
    resource_type = resource.get("resourceType")
    identifiers = resource.get("identifier")
    if not isinstance(resource_type, str) or not isinstance(identifiers, list):
        return []
    keys = []
    for identifier in identifiers:
        if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
            system = identifier.get("system")
            keys.append(
                identifier_key(
                    resource_type, system if isinstance(system, str) else "", identifier["value"]
                )
            )
    return keys


def _reference_strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from _reference_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _reference_strings(item)


def conditional_references(resource: Mapping[str, Any]) -> set[str]:
    """The distinct conditional reference strings anywhere in ``resource``."""
    return {
        reference
        for reference in _reference_strings(resource)
        if parse_conditional_reference(reference) is not None
    }


@dataclass(frozen=True)
class ReferenceTargets:
    """Where each bundle-local reference should now point.

    ``local``: fullUrl (``urn:uuid:...``) -> ``Type/id`` for this bundle.
    ``conditional``: conditional reference text -> ``Type/id``, or ``None``
    when it could not be resolved.
    """

    local: Mapping[str, str]
    conditional: Mapping[str, str | None]


@dataclass(frozen=True)
class RewrittenResource:
    resource: JsonObject
    unresolved_references: int


def _logical_reference(node: Mapping[str, Any], conditional: ConditionalReference) -> JsonObject:
    """Replace an unresolvable conditional reference by one that keeps its meaning."""
    replacement: JsonObject = {
        key: value for key, value in node.items() if key not in {"reference", "type", "identifier"}
    }
    replacement["type"] = conditional.resource_type
    identifier = conditional.identifier
    if identifier is not None:
        system, value = identifier
        replacement["identifier"] = (
            {"system": system, "value": value} if system else {"value": value}
        )
    return replacement


class _Rewriter:
    def __init__(self, targets: ReferenceTargets) -> None:
        self.targets = targets
        self.unresolved = 0

    def node(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.node(item) for item in node]
        if not isinstance(node, dict):
            return node
        copied = {key: self.node(value) for key, value in node.items()}
        reference = copied.get("reference")
        if isinstance(reference, str):
            rewritten = self.reference(copied, reference)
            if rewritten is not None:
                return rewritten
        return copied

    def reference(self, node: JsonObject, reference: str) -> JsonObject | None:
        if reference.startswith(_URN_UUID):
            target = self.targets.local.get(reference)
            if target is None:
                raise DanglingReferenceError(reference)
            return {**node, "reference": target}
        conditional = parse_conditional_reference(reference)
        if conditional is None:
            return None
        resolved = self.targets.conditional.get(reference)
        if resolved is not None:
            return {**node, "reference": resolved}
        self.unresolved += 1
        return _logical_reference(node, conditional)


def rewrite_references(resource: Mapping[str, Any], targets: ReferenceTargets) -> RewrittenResource:
    """Return a copy of ``resource`` with every reference made server-ready.

    Raises :class:`DanglingReferenceError` for a ``urn:uuid:`` that
    ``targets.local`` does not know.
    """
    rewriter = _Rewriter(targets)
    rewritten = rewriter.node(resource)
    return RewrittenResource(resource=rewritten, unresolved_references=rewriter.unresolved)


def entry_resource_id(entry: Mapping[str, Any]) -> str:
    """The id to load an entry's resource under: Synthea's own.

    A resource without ``id`` takes the uuid of its ``urn:uuid:`` fullUrl
    (what a server would have matched it by). Raises ``ValueError`` when
    there is neither.
    """
    resource = entry.get("resource")
    resource_id = resource.get("id") if isinstance(resource, dict) else None
    if isinstance(resource_id, str) and resource_id:
        return resource_id
    full_url = entry.get("fullUrl")
    if isinstance(full_url, str) and full_url.startswith(_URN_UUID) and len(full_url) > 9:
        return full_url[len(_URN_UUID) :]
    raise ValueError(
        "the resource has no id and the entry has no urn:uuid fullUrl to take one from; "
        "add an id to the resource"
    )


def _normalised(text: str) -> str:
    return " ".join(text.split()).casefold()


def conditional_reference_displays(resource: Mapping[str, Any]) -> dict[str, set[str]]:
    """Each conditional reference in ``resource`` with the displays written next to it.

    The display is what lets the loader notice an identifier collision (see
    :func:`names_of`); a reference written without one maps to an empty set.
    """
    found: dict[str, set[str]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            reference = node.get("reference")
            if isinstance(reference, str) and parse_conditional_reference(reference):
                displays = found.setdefault(reference, set())
                if isinstance(node.get("display"), str) and node["display"].strip():
                    displays.add(_normalised(node["display"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(resource)
    return found


def names_of(resource: Mapping[str, Any]) -> frozenset[str]:
    """The ways Synthea may display ``resource`` in a reference, normalised.

    Synthea's practitioner NPIs restart with every run, so
    ``Practitioner?identifier=...|9999999959`` from one data set can name a
    different doctor in another data set already on the server. Comparing a
    reference's display with these names catches that collision; measured on
    the synthea-external sets, 114 of 166 displayed spezi practitioner
    references would otherwise point at the wrong person.
    """
    names: set[str] = set()
    raw_names = resource.get("name")
    if isinstance(raw_names, str):
        names.add(raw_names)
    elif isinstance(raw_names, list):
        for name in raw_names:
            if not isinstance(name, dict):
                continue
            if isinstance(name.get("text"), str):
                names.add(name["text"])
            given = [str(part) for part in name.get("given") or []]
            family = [str(name["family"])] if name.get("family") else []
            prefix = [str(part) for part in name.get("prefix") or []]
            names.add(" ".join(given + family))
            names.add(" ".join(prefix + given + family))
    aliases = resource.get("alias")
    if isinstance(aliases, list):
        names.update(alias for alias in aliases if isinstance(alias, str))
    return frozenset(_normalised(name) for name in names if name.strip())
