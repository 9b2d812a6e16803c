"""Find bundle files and put them in the order a FHIR server needs.

Synthea patient bundles point at practitioners, organisations and locations
by identifier (``Practitioner?identifier=...``); those live in separate
``hospitalInformation*.json`` / ``practitionerInformation*.json`` batch
bundles. They must be on the server before any patient bundle, whatever
order the user typed the paths in, or every such reference goes unresolved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from fhir_client._codec import loads_json

_REFERENCE_DATA_NAME = re.compile(r"^(hospitalInformation|practitionerInformation)", re.IGNORECASE)


class BundleKind(StrEnum):
    """What a bundle holds, which decides when it is loaded."""

    REFERENCE_DATA = "reference data"  # practitioners, organisations, locations
    PATIENT = "patient"  # one patient's record
    NOT_A_BUNDLE = "not a bundle"  # valid JSON of another kind (Synthea metadata, configs)
    UNREADABLE = "unreadable"  # not valid JSON (e.g. truncated): reported, never sent


@dataclass(frozen=True)
class BundleFile:
    """One ``.json`` file to load and what it was recognised as."""

    path: Path
    kind: BundleKind
    size_bytes: int


@dataclass(frozen=True)
class LoadPlan:
    """Files in load order, plus what was passed over in directories."""

    files: list[BundleFile]
    skipped: list[Path] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(bundle.size_bytes for bundle in self.files)


def expand_paths(paths: Iterable[Path]) -> tuple[list[Path], list[Path], set[Path]]:
    """Turn files and directories into a sorted, de-duplicated list of ``.json`` files.

    Directories are searched recursively; non-JSON files inside them (Synthea
    ships ``*.license`` sidecars, CSV exports, ...) are skipped and returned
    so the caller can say how many. A path given explicitly must exist and,
    if a file, end in ``.json``: silently ignoring a typo would load less
    than the user asked for. Returns (json files, skipped files, the json
    files that were named explicitly).
    """
    found: set[Path] = set()
    skipped: set[Path] = set()
    explicit: set[Path] = set()
    for path in paths:
        if path.is_dir():
            for child in path.rglob("*"):
                if not child.is_file():
                    continue
                if child.suffix.lower() == ".json":
                    found.add(child.resolve())
                else:
                    skipped.add(child.resolve())
        elif path.is_file():
            if path.suffix.lower() != ".json":
                raise ValueError(
                    f"{path}: not a .json file; pass Synthea FHIR bundle files (*.json) "
                    "or directories containing them"
                )
            found.add(path.resolve())
            explicit.add(path.resolve())
        else:
            raise FileNotFoundError(f"{path}: no such file or directory; check the path")
    return sorted(found), sorted(skipped), explicit


def classify_bundle(document: Any, file_name: str) -> BundleKind:
    """Decide whether a parsed document is reference data, a patient, or unusable.

    The Synthea file names are trusted first; otherwise the content decides:
    a Bundle that contains no Patient is reference data (so it is loaded
    before the patients that may point into it).
    """
    if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        return BundleKind.NOT_A_BUNDLE
    if _REFERENCE_DATA_NAME.match(file_name):
        return BundleKind.REFERENCE_DATA
    entries = document.get("entry")
    if not isinstance(entries, list):
        return BundleKind.UNREADABLE
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "Patient":
            return BundleKind.PATIENT
    return BundleKind.REFERENCE_DATA


def _kind_of_file(path: Path) -> BundleKind:
    if _REFERENCE_DATA_NAME.match(path.name):
        # Trust the name and skip parsing a multi-megabyte file twice; the
        # loader still checks it is a Bundle when it reads it.
        return BundleKind.REFERENCE_DATA
    try:
        document = loads_json(path.read_bytes())
    except (OSError, ValueError):
        return BundleKind.UNREADABLE
    return classify_bundle(document, path.name)


_LOAD_ORDER = {
    BundleKind.REFERENCE_DATA: 0,
    BundleKind.PATIENT: 1,
    BundleKind.UNREADABLE: 2,
    BundleKind.NOT_A_BUNDLE: 2,
}


def plan_load(paths: Sequence[Path]) -> LoadPlan:
    """Expand ``paths`` and order the bundles: reference data first, then patients.

    Unreadable files are kept at the end of the plan so the loader reports
    each one by name instead of the whole run stopping at the first. JSON
    that is not a Bundle is skipped when met in a directory (Synthea's output
    tree also holds metadata and module JSON) but is an error when named.
    """
    json_files, skipped, explicit = expand_paths(paths)
    bundles: list[BundleFile] = []
    for path in json_files:
        kind = _kind_of_file(path)
        if kind is BundleKind.NOT_A_BUNDLE and path not in explicit:
            skipped.append(path)
        else:
            bundles.append(BundleFile(path, kind, path.stat().st_size))
    bundles.sort(key=lambda bundle: (_LOAD_ORDER[bundle.kind], str(bundle.path)))
    return LoadPlan(files=bundles, skipped=sorted(skipped))
