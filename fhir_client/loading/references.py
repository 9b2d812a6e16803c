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

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple, cast
from urllib.parse import parse_qsl

from fhir_client._depth import JsonTooDeep
from fhir_client.loading.errors import DanglingReferenceError
from fhir_client.names import name_texts

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


class ReferenceSite(NamedTuple):
    """A JSON object holding a ``reference`` string, and where it sits.

    ``container[key]`` is ``node``; both are ``None`` when ``node`` is the
    resource itself. Knowing the parent lets a rewrite replace just this
    object instead of rebuilding the whole resource around it.
    """

    container: dict[str, Any] | list[Any] | None
    key: str | int | None
    node: dict[str, Any]
    reference: str


def _sites_in_dict(
    node: dict[str, Any],
    container: dict[str, Any] | list[Any] | None,
    key: str | int | None,
    sites: list[ReferenceSite],
    room: int,
) -> None:
    if room <= 0:
        raise JsonTooDeep("the JSON is nested too deep")
    for child_key, value in node.items():
        if isinstance(value, dict):
            _sites_in_dict(value, node, child_key, sites, room - 1)
        elif isinstance(value, list):
            _sites_in_list(value, sites, room - 1)
    reference = node.get("reference")
    if isinstance(reference, str):
        sites.append(ReferenceSite(container, key, node, reference))


def _sites_in_list(items: list[Any], sites: list[ReferenceSite], room: int) -> None:
    if room <= 0:
        raise JsonTooDeep("the JSON is nested too deep")
    for index, value in enumerate(items):
        if isinstance(value, dict):
            _sites_in_dict(value, items, index, sites, room - 1)
        elif isinstance(value, list):
            _sites_in_list(value, sites, room - 1)


def find_references(
    resource: dict[str, Any], *, depth_limit: int | None = None
) -> list[ReferenceSite]:
    """Every object in ``resource`` with a ``reference`` string, innermost first.

    One walk that only descends into objects and arrays (a Synthea bundle
    has ~70 JSON nodes per resource, most of them strings); the loader then
    reads the conditional displays and rewrites the references from this
    list without walking the resource again. The order is a post-order walk,
    the order the references are rewritten in.

    With ``depth_limit``, the same walk is the exact nesting check of
    :func:`fhir_client._depth.check_depth` (``resource`` is level 1): it raises
    :class:`JsonTooDeep` past the limit, so the loader's first pass walks each
    resource once instead of twice. Without it the walk is bounded only by the
    callers' byte screen (:mod:`.sources`), as before.
    """
    sites: list[ReferenceSite] = []
    _sites_in_dict(resource, None, None, sites, sys.maxsize if depth_limit is None else depth_limit)
    return sites


@lru_cache(maxsize=4096)
def _parsed_conditional(reference: str) -> ConditionalReference | None:
    # Synthea repeats the same few hundred practitioner/organisation references
    # thousands of times; parse_qsl on each was a tenth of the rewrite's time.
    return parse_conditional_reference(reference)


def conditional_references(resource: Mapping[str, Any]) -> set[str]:
    """The distinct conditional reference strings anywhere in ``resource``."""
    return {
        site.reference
        for site in find_references(dict(resource))
        if _parsed_conditional(site.reference) is not None
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


def _copy_dict(
    node: Mapping[str, Any],
    container: dict[str, Any] | list[Any] | None,
    key: str | int | None,
    sites: list[ReferenceSite],
) -> dict[str, Any]:
    copied: dict[str, Any] = {}
    for child_key, value in node.items():
        if isinstance(value, dict):
            value = _copy_dict(value, copied, child_key, sites)
        elif isinstance(value, list):
            value = _copy_list(value, sites)
        copied[child_key] = value
    reference = copied.get("reference")
    if isinstance(reference, str):
        sites.append(ReferenceSite(container, key, copied, reference))
    return copied


def _copy_list(items: list[Any], sites: list[ReferenceSite]) -> list[Any]:
    copied: list[Any] = []
    for value in items:
        if isinstance(value, dict):
            value = _copy_dict(value, copied, len(copied), sites)
        elif isinstance(value, list):
            value = _copy_list(value, sites)
        copied.append(value)
    return copied


def rewrite_references(resource: Mapping[str, Any], targets: ReferenceTargets) -> RewrittenResource:
    """Return a copy of ``resource`` with every reference made server-ready.

    Raises :class:`DanglingReferenceError` for a ``urn:uuid:`` that
    ``targets.local`` does not know. ``resource`` itself is never changed.
    """
    sites: list[ReferenceSite] = []
    copied = _copy_dict(resource, None, None, sites)
    return rewrite_found_references(copied, sites, targets)


def rewrite_found_references(
    resource: dict[str, Any], sites: list[ReferenceSite], targets: ReferenceTargets
) -> RewrittenResource:
    """Rewrite the references :func:`find_references` found, changing ``resource`` in place.

    For a caller that owns ``resource`` (the loader, which parsed it from the
    file): copying a whole resource to change a few references cost more than
    the rewrite itself. ``sites`` must come from this very resource, innermost
    first, so an object that is replaced already holds its rewritten children.
    On :class:`DanglingReferenceError` the resource is left half-rewritten;
    discard it. Returns ``resource``, or its replacement if the resource
    object itself held a reference.
    """
    unresolved = 0
    for container, key, node, reference in sites:
        if reference.startswith(_URN_UUID):
            target = targets.local.get(reference)
            if target is None:
                raise DanglingReferenceError(reference)
            node["reference"] = target
            continue
        conditional = _parsed_conditional(reference)
        if conditional is None:
            continue  # #contained, literal Type/id, absolute URL: kept as written
        resolved = targets.conditional.get(reference)
        if resolved is not None:
            node["reference"] = resolved
            continue
        unresolved += 1
        replacement = _logical_reference(node, conditional)
        if container is None:
            resource = replacement
        elif isinstance(container, list):
            container[cast(int, key)] = replacement
        else:
            container[cast(str, key)] = replacement
    return RewrittenResource(resource=resource, unresolved_references=unresolved)


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
    return conditional_displays(find_references(dict(resource)))


def conditional_displays(sites: list[ReferenceSite]) -> dict[str, set[str]]:
    """:func:`conditional_reference_displays` from already found references."""
    found: dict[str, set[str]] = {}
    for site in sites:
        if site.reference.startswith(_URN_UUID) or _parsed_conditional(site.reference) is None:
            continue
        displays = found.setdefault(site.reference, set())
        display = site.node.get("display")
        if isinstance(display, str) and display.strip():
            displays.add(_normalised(display))
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
    names = set(name_texts(resource, with_prefix=True))  # a Practitioner's HumanNames
    raw_names = resource.get("name")
    if isinstance(raw_names, str):  # an Organization's name is a string
        names.add(raw_names)
    aliases = resource.get("alias")
    if isinstance(aliases, list):
        names.update(alias for alias in aliases if isinstance(alias, str))
    return frozenset(_normalised(name) for name in names if name.strip())
