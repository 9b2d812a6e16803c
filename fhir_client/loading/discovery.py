"""Find bundle and NDJSON files and put them in the order a FHIR server needs.

Synthea patient bundles point at practitioners, organisations and locations
by identifier (``Practitioner?identifier=...``); those live in separate
``hospitalInformation*.json`` / ``practitionerInformation*.json`` batch
bundles. They must be on the server before any patient bundle, whatever
order the user typed the paths in, or every such reference goes unresolved.

FHIR Bulk Data output (``$export``, Synthea's ``exporter.fhir.bulk_data``) is one
``Type.ndjson`` file per resource type. The same rule orders it: directory types
first, then ``Patient``, then the record types, those that others point at
(``Encounter``) before those that point at them (``ExplanationOfBenefit``), so a
server that checks references (HAPI) accepts every file.

Files are classified by streaming their first entries (:mod:`.sources`), never by
parsing a whole lifetime bundle.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from fhir_client.loading.errors import BundleLoadError
from fhir_client.loading.sources import NotABundle, entry_resource_types, file_size, is_ndjson

_REFERENCE_DATA_NAME = re.compile(r"^(hospitalInformation|practitionerInformation)", re.IGNORECASE)


class BundleKind(StrEnum):
    """What a bundle holds, which decides when it is loaded."""

    REFERENCE_DATA = "reference data"  # practitioners, organisations, locations
    PATIENT = "patient"  # one patient's record, or the Patient.ndjson of a bulk export
    RECORD_DATA = "record data"  # NDJSON of one record type (Observation...), after patients
    NOT_A_BUNDLE = "not a bundle"  # valid JSON of another kind (Synthea metadata, configs)
    UNREADABLE = "unreadable"  # not valid JSON (e.g. truncated): reported, never sent


@dataclass(frozen=True)
class BundleFile:
    """One ``.json`` or ``.ndjson`` file to load and what it was recognised as."""

    path: Path
    kind: BundleKind
    size_bytes: int
    first_type: str = ""  # NDJSON: the resource type of its first line (orders the files)

    @property
    def is_ndjson(self) -> bool:
        return is_ndjson(self.path)


@dataclass(frozen=True)
class LoadPlan:
    """Files in load order, plus what was passed over in directories."""

    files: list[BundleFile]
    skipped: list[Path] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(bundle.size_bytes for bundle in self.files)


LOADABLE_SUFFIXES = (".json", ".ndjson")

#: Types other resources point at by identifier or id and that belong to no patient.
DIRECTORY_TYPES = frozenset(
    {"Organization", "Location", "Practitioner", "PractitionerRole", "Medication"}
)
#: NDJSON load order after Patient: targets of references before what points at them.
#: Types not named here load after the named ones and before claims.
RECORD_TYPE_ORDER = (
    "Encounter",
    "Condition",
    "AllergyIntolerance",
    "Device",
    "Observation",
    "Procedure",
    "Immunization",
    "MedicationRequest",
    "MedicationAdministration",
    "MedicationStatement",
    "CareTeam",
    "Goal",
    "CarePlan",
    "DiagnosticReport",
    "DocumentReference",
    "ImagingStudy",
    "SupplyDelivery",
)
_LATE_TYPES = ("Claim", "ExplanationOfBenefit", "Provenance")


def _type_rank(resource_type: str) -> int:
    if resource_type in RECORD_TYPE_ORDER:
        return RECORD_TYPE_ORDER.index(resource_type)
    if resource_type in _LATE_TYPES:
        return len(RECORD_TYPE_ORDER) + 1 + _LATE_TYPES.index(resource_type)
    return len(RECORD_TYPE_ORDER)


def expand_paths(paths: Iterable[Path]) -> tuple[list[Path], list[Path], set[Path]]:
    """Turn files and directories into a sorted, de-duplicated list of ``.json`` and
    ``.ndjson`` files.

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
                if child.suffix.lower() in LOADABLE_SUFFIXES:
                    found.add(child.resolve())
                else:
                    skipped.add(child.resolve())
        elif path.is_file():
            if path.suffix.lower() not in LOADABLE_SUFFIXES:
                raise ValueError(
                    f"{path}: not a .json file; pass Synthea FHIR bundle files (*.json), "
                    "FHIR Bulk Data files (*.ndjson) or directories containing them"
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


def _kind_of_file(path: Path) -> tuple[BundleKind, str]:
    """(kind, first resource type) from the file's first entries, streamed."""
    if not is_ndjson(path) and _REFERENCE_DATA_NAME.match(path.name):
        # Trust the name and skip reading a multi-megabyte file twice; the
        # loader still checks it is a Bundle when it reads it.
        return BundleKind.REFERENCE_DATA, ""
    try:
        types = entry_resource_types(path)
        try:
            first = next(types, "")
            if is_ndjson(path):
                return _ndjson_kind(first), first
            if first == "Patient" or any(t == "Patient" for t in types):
                return BundleKind.PATIENT, first
        finally:
            types.close()
    except NotABundle:
        return BundleKind.NOT_A_BUNDLE, ""
    except BundleLoadError:
        return BundleKind.UNREADABLE, ""
    return BundleKind.REFERENCE_DATA, first


def _ndjson_kind(first_type: str) -> BundleKind:
    if first_type == "Patient":
        return BundleKind.PATIENT
    if first_type in DIRECTORY_TYPES:
        return BundleKind.REFERENCE_DATA
    if not first_type:
        return BundleKind.UNREADABLE
    return BundleKind.RECORD_DATA


_LOAD_ORDER = {
    BundleKind.REFERENCE_DATA: 0,
    BundleKind.PATIENT: 1,
    BundleKind.RECORD_DATA: 2,
    BundleKind.UNREADABLE: 3,
    BundleKind.NOT_A_BUNDLE: 3,
}


def _order(bundle: BundleFile) -> tuple[int, int, str]:
    rank = _type_rank(bundle.first_type) if bundle.kind is BundleKind.RECORD_DATA else 0
    return (_LOAD_ORDER[bundle.kind], rank, str(bundle.path))


def plan_load(paths: Sequence[Path]) -> LoadPlan:
    """Expand ``paths`` and order the bundles: reference data first, then patients.

    NDJSON files are ordered by the type of their first line (see the module
    docstring). Unreadable files are kept at the end of the plan so the loader reports
    each one by name instead of the whole run stopping at the first. JSON
    that is not a Bundle is skipped when met in a directory (Synthea's output
    tree also holds metadata and module JSON) but is an error when named.
    """
    json_files, skipped, explicit = expand_paths(paths)
    bundles: list[BundleFile] = []
    for path in json_files:
        kind, first_type = _kind_of_file(path)
        if kind is BundleKind.NOT_A_BUNDLE and path not in explicit:
            skipped.append(path)
        else:
            bundles.append(BundleFile(path, kind, file_size(path), first_type))
    bundles.sort(key=_order)
    return LoadPlan(files=bundles, skipped=sorted(skipped))
