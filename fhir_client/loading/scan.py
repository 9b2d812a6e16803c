"""The first of the loader's two passes over a file: learn what it holds, keep no entry.

A lifetime bundle cannot be held in memory as parsed JSON, yet rewriting its
references needs facts about the whole file (which ``urn:uuid:`` names which
entry, which identifiers its own practitioners carry, which conditional
references it uses). This pass streams the entries once and keeps only those
facts, in a temporary SQLite file (:mod:`.scratch`); the second pass (:mod:`.sinks`) streams
the entries again and rewrites each one as it goes.

Validation against FHIR R4 happens here, so a file that fails does so before the
store's write lock is taken.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fhir_client._depth import JsonTooDeep, check_depth
from fhir_client.limits import MAX_JSON_DEPTH
from fhir_client.loading.errors import BundleLoadError
from fhir_client.loading.references import (
    ReferenceSite,
    conditional_displays,
    entry_resource_id,
    find_references,
)
from fhir_client.loading.resolution import identifier_index
from fhir_client.loading.scratch import FileFacts, LoadScratch
from fhir_client.loading.sources import sized_file_entries, too_deep
from fhir_client.loading.validation import resource_problem

JsonObject = dict[str, Any]


@dataclass
class FileScan:
    """What pass one learnt about a file.

    ``facts`` holds, in the run's scratch database, each entry's ``Type/id`` by
    position (so pass two can check it reads the very same entries: a file rewritten
    in between is refused), the fullUrls and the identifiers. What stays in memory
    grows with distinct conditional references and resource types, not with entries.
    """

    facts: FileFacts
    wanted: dict[str, set[str]] = field(default_factory=dict)  # conditional ref -> displays
    counts: Counter[str] = field(default_factory=Counter)


def entry_resource(path: Path, index: int, entry: JsonObject) -> JsonObject:
    """The entry's resource with its load id set (Synthea's own, or its fullUrl's uuid)."""
    resource = entry.get("resource")
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise BundleLoadError(path, index, "the entry has no resource with a resourceType")
    try:
        resource_id = entry_resource_id(entry)
    except ValueError as error:
        raise BundleLoadError(path, index, str(error)) from None
    if resource.get("id") != resource_id:
        resource = {**resource, "id": resource_id}
    return resource


def _references_within_depth(
    path: Path, index: int, entry: JsonObject, resource: JsonObject
) -> list[ReferenceSite]:
    """The resource's references, checking on the way that the entry nests at most
    ``MAX_JSON_DEPTH`` levels (the entry is level 1, its resource level 2): the check
    ``sized_file_entries(exact_depth=True)`` would make, in the walk pass one needs
    anyway. Raises the reader's own "nested too deep" error."""
    room = MAX_JSON_DEPTH - 1
    try:
        for key, value in entry.items():
            if key != "resource" and isinstance(value, dict | list):
                check_depth(value, room)
        return find_references(resource, depth_limit=room)
    except JsonTooDeep:
        raise too_deep(path, index) from None


def scan_file(path: Path, scratch: LoadScratch, *, validate: bool) -> FileScan:
    """Pass one over ``path``; raises :class:`BundleLoadError` naming the first problem."""
    scan = FileScan(scratch.start_file())
    facts = scan.facts
    # The exact MAX_JSON_DEPTH check of each entry is made here, in the same walk that
    # finds its references (:func:`_references_within_depth`), not by the reader.
    for index, entry, _ in sized_file_entries(path, exact_depth=False):
        resource = entry_resource(path, index, entry)
        sites = _references_within_depth(path, index, entry, resource)
        target = f"{resource['resourceType']}/{resource['id']}"
        first = facts.add_entry(index, target)
        if first is not None:
            raise BundleLoadError(path, index, f"{target} appears twice (first at entry {first})")
        full_url = entry.get("fullUrl")
        if isinstance(full_url, str):
            facts.add_full_url(full_url, target)
        if validate and (problem := resource_problem(resource)) is not None:
            raise BundleLoadError(path, index, f"{target} is not valid FHIR R4: {problem}")
        if resource.get("identifier"):
            facts.add_identifiers(identifier_index([resource]))
        for reference, displays in conditional_displays(sites).items():
            scan.wanted.setdefault(reference, set()).update(displays)
        scan.counts[resource["resourceType"]] += 1
    return scan
