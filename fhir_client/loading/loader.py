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

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from fhir_client.client import FhirClient
from fhir_client.embedded import store_of
from fhir_client.errors import FhirError
from fhir_client.loading.discovery import BundleFile, LoadPlan, plan_load
from fhir_client.loading.errors import BundleLoadError
from fhir_client.loading.parallel_validation import UNREADABLE, BackgroundValidation, Problem
from fhir_client.loading.references import ReferenceTargets
from fhir_client.loading.report import FileLoadResult, LoadEvent, LoadReport, LoadStage
from fhir_client.loading.resolution import ConditionalResolver
from fhir_client.loading.scan import scan_file
from fhir_client.loading.scratch import FileFacts, LoadScratch
from fhir_client.loading.sinks import (
    LoadTarget,
    PreparedEntries,
    send_in_memory,
    send_streamed,
    write_to_store,
)

__all__ = ["LoadTarget", "load_bundle_file", "load_paths"]

logger = logging.getLogger(__name__)

JsonObject = dict[str, Any]
ProgressCallback = Callable[[LoadEvent], None]


async def load_bundle_file(
    client: LoadTarget,
    bundle_file: BundleFile,
    resolver: ConditionalResolver,
    scratch: LoadScratch,
    *,
    validate: bool,
    verdict: Future[Problem | None] | None = None,
) -> FileLoadResult:
    """Load one file as one transaction; raise :class:`BundleLoadError` if it cannot be.

    Two streamed passes (see :mod:`.scan` and :mod:`.sinks`): memory follows the
    largest entry, not the file, and what the passes must know per entry waits in
    ``scratch`` (:mod:`.scratch`), not in memory. With ``verdict`` (a validation worker's future for
    this file), the first pass skips validation and the file is written only once
    the worker has found it valid.
    """
    path = bundle_file.path
    started = time.perf_counter()
    scan = await asyncio.to_thread(scan_file, path, scratch, validate=validate and verdict is None)
    conditional: dict[str, str | None] = {}
    for reference, displays in sorted(scan.wanted.items()):
        try:
            conditional[reference] = await resolver.resolve(reference, displays, scan.facts)
        except FhirError as error:
            raise BundleLoadError(
                path, None, f"could not look up {reference} on the server: {error}"
            ) from error
    if verdict is not None:
        await _check_verdict(path, scan.facts, verdict)
    store = store_of(client)
    entries = PreparedEntries(
        path,
        scan,
        ReferenceTargets(local=scan.facts.local, conditional=conditional),
        exact_depth=store is None,  # the store checks the depth of every write itself
    )
    if store is not None:
        await asyncio.to_thread(write_to_store, store, path, entries)
    elif isinstance(client, FhirClient):
        await send_streamed(client, path, entries)
    else:
        await send_in_memory(client, path, entries)
    resolver.remember()
    return FileLoadResult(
        path=path,
        kind=bundle_file.kind,
        resources_by_type=dict(sorted(scan.counts.items())),
        unresolved_references=entries.unresolved,
        unresolved_targets=tuple(sorted(ref for ref, target in conditional.items() if not target)),
        seconds=time.perf_counter() - started,
    )


async def _check_verdict(path: Path, facts: FileFacts, verdict: Future[Problem | None]) -> None:
    """Wait for the worker's verdict on ``path``; raise as in-process validation would."""
    try:
        problem = await asyncio.wrap_future(verdict)
    except Exception as error:  # a dead worker: the file is not known valid, so not written
        raise BundleLoadError(
            path, None, f"the validation worker failed ({type(error).__name__}); not loaded"
        ) from None
    if problem is None:
        return
    index, message = problem
    target = facts.target_at(index) if index != UNREADABLE else None
    if target is None:
        raise BundleLoadError(path, None, message)
    raise BundleLoadError(path, index, f"{target} is not valid FHIR R4: {message}")


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
    background_validation: bool = False,
) -> LoadReport:
    """Load every Synthea bundle under ``paths`` (files or directories, any order).

    Reference-data bundles go first, then patients. A file that fails is
    recorded in the report (``LoadReport.failures``) and left out entirely;
    the others still load. Raises ``FileNotFoundError``/``ValueError`` only
    for a path argument that does not exist or is not a ``.json`` file,
    before anything is loaded.

    ``background_validation`` validates in a worker process
    (:mod:`.parallel_validation`) running ahead of the loader, which waits for a
    file's verdict before writing it: the same guarantee and messages, with the
    validation on another core. Off by default: on this project's shared two-core
    machine (load average ~20) it measured 0.82x the inline rate, 102 against 125
    resources/s on 6 Synthea patients (``bench/population.py``; ``bench/README.md``). It
    can only pay where a core is idle beside the loader.
    """
    started = time.perf_counter()
    plan = plan_load(paths)
    with contextlib.ExitStack() as stack:
        verdicts: dict[Path, Future[Problem | None]] = {}
        if validate and background_validation:
            worker = stack.enter_context(BackgroundValidation())
            verdicts = {f.path: worker.submit_bundle(str(f.path)) for f in plan.files}
        scratch = stack.enter_context(LoadScratch())
        return await _load_planned(client, plan, started, on_progress, validate, verdicts, scratch)


async def _load_planned(
    client: LoadTarget,
    plan: LoadPlan,
    started: float,
    on_progress: ProgressCallback | None,
    validate: bool,
    verdicts: Mapping[Path, Future[Problem | None]],
    scratch: LoadScratch,
) -> LoadReport:
    resolver = ConditionalResolver(client, scratch)
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
                # An unreadable file fails in the first pass, with the precise reason.
                result = await load_bundle_file(
                    client,
                    bundle_file,
                    resolver,
                    scratch,
                    validate=validate,
                    verdict=verdicts.get(bundle_file.path),
                )
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
