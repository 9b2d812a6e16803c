"""Load Synthea bundles into any FHIR server through the FHIR client.

One bundle file becomes one FHIR ``transaction`` of ``PUT Type/id`` entries:

- ``PUT`` with Synthea's own ids, so ``Observation/abc`` names the same
  resource on the embedded store, on HAPI and in a cloud FHIR service, and a
  citation stays valid whichever the agent talked to. Loading twice is
  harmless (a PUT replaces).
- one transaction per file, so a file that fails changes nothing; the run
  goes on with the other files and reports each failure by file and entry.
- conditional references are resolved by the loader with an ordinary
  ``identifier`` search (the same request on every server), once per distinct
  reference per run, after the practitioner/hospital bundles of the same run
  have been indexed. Unresolvable ones are kept as logical references and
  counted (see :mod:`fhir_client.loading.references`).

Validation with ``fhir.resources.R4B`` is on by default: it adds roughly 40%
to an embedded load (measured on the synthea-external set, see the issue
note) and turns a server's "transaction failed" into "file X, entry 12,
Observation.valueQuantity.value: ...".
"""

from __future__ import annotations

import contextlib
import gc
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from fhir_client._codec import loads_json
from fhir_client.errors import FhirError, FhirHttpError
from fhir_client.loading.discovery import BundleFile, BundleKind, plan_load
from fhir_client.loading.errors import BundleLoadError, DanglingReferenceError
from fhir_client.loading.references import (
    ReferenceTargets,
    conditional_displays,
    entry_resource_id,
    find_references,
    rewrite_found_references,
)
from fhir_client.loading.report import FileLoadResult, LoadEvent, LoadReport, LoadStage
from fhir_client.loading.resolution import ConditionalResolver, SearchTarget, identifier_index
from fhir_client.loading.validation import resource_problem

logger = logging.getLogger(__name__)

JsonObject = dict[str, Any]
ProgressCallback = Callable[[LoadEvent], None]

_ENTRY_POSITION = re.compile(r"entry\[(\d+)\]", re.IGNORECASE)


class LoadTarget(SearchTarget, Protocol):
    """The part of :class:`fhir_client.client.FhirClient` the loader needs."""

    async def transaction(self, bundle: JsonObject) -> JsonObject: ...


def _read_bundle(path: Path) -> list[Any]:
    try:
        document = loads_json(path.read_bytes())
    except OSError as error:
        raise BundleLoadError(path, None, f"cannot read the file ({error.strerror})") from error
    except ValueError as error:
        raise BundleLoadError(
            path, None, f"not valid JSON ({error}); the file may be truncated, regenerate it"
        ) from error
    if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        raise BundleLoadError(path, None, 'not a FHIR Bundle (no "resourceType": "Bundle")')
    entries = document.get("entry", [])
    if not isinstance(entries, list):
        raise BundleLoadError(path, None, 'the Bundle\'s "entry" is not a list')
    return entries


def _local_targets(path: Path, entries: list[Any]) -> tuple[dict[str, str], list[JsonObject]]:
    """Map each entry's fullUrl to ``Type/id`` and return the resources with their ids set."""
    local: dict[str, str] = {}
    resources: list[JsonObject] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise BundleLoadError(path, index, "the entry has no resource with a resourceType")
        try:
            resource_id = entry_resource_id(entry)
        except ValueError as error:
            raise BundleLoadError(path, index, str(error)) from error
        target = f"{resource['resourceType']}/{resource_id}"
        if target in seen:
            raise BundleLoadError(
                path, index, f"{target} appears twice (first at entry {seen[target]})"
            )
        seen[target] = index
        full_url = entry.get("fullUrl")
        if isinstance(full_url, str):
            local[full_url] = target
        resources.append({**resource, "id": resource_id})
    return local, resources


def _transaction_of(resources: Sequence[JsonObject]) -> JsonObject:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": resource,
                "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"},
            }
            for resource in resources
        ],
    }


def _server_refusal(path: Path, error: FhirError) -> BundleLoadError:
    text = error.diagnostics if isinstance(error, FhirHttpError) else str(error)
    position = _ENTRY_POSITION.search(text)
    return BundleLoadError(
        path,
        int(position.group(1)) if position else None,
        f"the server refused the bundle, so nothing from this file was stored: {error}",
    )


async def load_bundle_file(
    client: LoadTarget,
    bundle_file: BundleFile,
    resolver: ConditionalResolver,
    *,
    validate: bool,
) -> FileLoadResult:
    """Load one file as one transaction; raise :class:`BundleLoadError` if it cannot be."""
    path = bundle_file.path
    started = time.perf_counter()
    entries = _read_bundle(path)
    local, resources = _local_targets(path, entries)
    # A conditional reference may point into its own bundle.
    own_identifiers = identifier_index(resources)
    # One walk per resource finds every reference; the displays are read and
    # the references rewritten (in place: the loader owns these dicts) from it.
    found = [find_references(resource) for resource in resources]
    wanted: dict[str, set[str]] = {}
    for sites in found:
        for reference, displays in conditional_displays(sites).items():
            wanted.setdefault(reference, set()).update(displays)
    conditional: dict[str, str | None] = {}
    for reference, displays in sorted(wanted.items()):
        try:
            conditional[reference] = await resolver.resolve(reference, displays, own_identifiers)
        except FhirError as error:
            raise BundleLoadError(
                path, None, f"could not look up {reference} on the server: {error}"
            ) from error
    targets = ReferenceTargets(local=local, conditional=conditional)

    ready: list[JsonObject] = []
    unresolved = 0
    for index, (resource, sites) in enumerate(zip(resources, found, strict=True)):
        label = f"{resource['resourceType']}/{resource['id']}"
        try:
            rewritten = rewrite_found_references(resource, sites, targets)
        except DanglingReferenceError as error:
            raise BundleLoadError(path, index, str(error)) from error
        if validate and (problem := resource_problem(rewritten.resource)) is not None:
            raise BundleLoadError(path, index, f"{label} is not valid FHIR R4: {problem}")
        unresolved += rewritten.unresolved_references
        ready.append(rewritten.resource)

    if ready:
        try:
            await client.transaction(_transaction_of(ready))
        except FhirError as error:
            raise _server_refusal(path, error) from error
        except UnicodeEncodeError as error:
            # Valid JSON may escape a lone surrogate ("\ud800"), which no UTF-8 body
            # can carry: report the file, like any other unloadable content.
            raise BundleLoadError(
                path,
                None,
                f"contains text that is not valid Unicode ({error.reason} at character "
                f"{error.start}); fix or remove that text and load the file again",
            ) from error
    resolver.remember(own_identifiers)
    return FileLoadResult(
        path=path,
        kind=bundle_file.kind,
        resources_by_type=dict(sorted(Counter(r["resourceType"] for r in ready).items())),
        unresolved_references=unresolved,
        unresolved_targets=tuple(sorted(ref for ref, target in conditional.items() if not target)),
        seconds=time.perf_counter() - started,
    )


@contextlib.contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """Run the cyclic garbage collector less often while a load is in progress.

    A load parses and rebuilds hundreds of thousands of small JSON dicts that
    are all alive until their file is sent, so the collector's default young
    generation threshold (700 allocations) makes it rescan them over and over
    for nothing: about 15-20% of load time here. The thresholds are restored
    afterwards; nothing is disabled.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


async def load_paths(
    client: LoadTarget,
    paths: Sequence[Path],
    *,
    on_progress: ProgressCallback | None = None,
    validate: bool = True,
) -> LoadReport:
    """Load every Synthea bundle under ``paths`` (files or directories, any order).

    Reference-data bundles go first, then patients. A file that fails is
    recorded in the report (``LoadReport.failures``) and left out entirely;
    the others still load. Raises ``FileNotFoundError``/``ValueError`` only
    for a path argument that does not exist or is not a ``.json`` file,
    before anything is loaded.
    """
    started = time.perf_counter()
    plan = plan_load(paths)
    resolver = ConditionalResolver(client)
    results: list[FileLoadResult] = []
    bytes_done = 0

    def emit(stage: LoadStage, **details: Any) -> None:
        if on_progress is not None:
            on_progress(LoadEvent(stage, len(plan.files), plan.total_bytes, bytes_done, **details))

    emit(LoadStage.PLANNED)
    with _fewer_gc_passes():
        for bundle_file in plan.files:
            emit(LoadStage.FILE_STARTED, file=bundle_file)
            file_started = time.perf_counter()
            try:
                if bundle_file.kind in (BundleKind.UNREADABLE, BundleKind.NOT_A_BUNDLE):
                    _read_bundle(bundle_file.path)  # raises the precise reason
                    raise BundleLoadError(bundle_file.path, None, "not a Synthea bundle")
                result = await load_bundle_file(client, bundle_file, resolver, validate=validate)
            except BundleLoadError as error:
                logger.info("%s", error)
                result = FileLoadResult(
                    path=bundle_file.path,
                    kind=bundle_file.kind,
                    seconds=time.perf_counter() - file_started,
                    error=error,
                )
            results.append(result)
            bytes_done += bundle_file.size_bytes
            emit(LoadStage.FILE_FINISHED, file=bundle_file, result=result)
    return LoadReport(
        files=results, skipped_files=plan.skipped, elapsed_seconds=time.perf_counter() - started
    )
