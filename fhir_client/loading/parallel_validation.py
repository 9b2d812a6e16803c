"""R4B validation in a worker process, so it overlaps the loader's other work.

Why: validating every resource with ``fhir.resources.R4B`` is about 55% of an
embedded load (issue 13), and it is pure CPU in Python, so in the loader's
process it cannot overlap parsing, reference resolution or SQLite writes. In a
worker process it can, on a second core: the loader submits file k's resources,
goes on preparing or writing, and asks for the verdict before it commits file k.
The guarantee is unchanged: a file is committed only after every one of its
resources was validated, and a problem names the entry, as
:func:`fhir_client.loading.validation.resource_problem` words it.

Resources cross to the worker as one orjson document per batch (cheaper than
pickling the dicts). The pool is started with ``forkserver`` so the worker never
inherits the loader's threads, sockets or SQLite handles.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from fhir_client.limits import VALIDATION_WORKERS
from fhir_client.loading.errors import BundleLoadError
from fhir_client.loading.sources import file_entries
from fhir_client.loading.validation import resource_problem

__all__ = ["UNREADABLE", "BackgroundValidation", "first_problem", "first_problem_in_bundle"]

Problem = tuple[int, str]
"""(index of the resource in the submitted batch, what is wrong with it)."""

UNREADABLE = -1
"""The index of a problem about the whole file rather than one entry."""


def first_problem(payload: bytes) -> Problem | None:
    """The first invalid resource of a JSON array of resources (runs in the worker)."""
    for index, resource in enumerate(orjson.loads(payload)):
        problem = resource_problem(resource)
        if problem is not None:
            return index, problem
    return None


def first_problem_in_bundle(path: str) -> Problem | None:
    """The first invalid resource of a bundle (or NDJSON) file, by entry index (runs in
    the worker).

    The file is streamed entry by entry, as the loader reads it, so the worker's memory
    follows the largest entry, not the file. Validating before references are rewritten
    gives the same verdicts: R4B checks a reference's type (a string), not its target.
    A file the worker cannot read is a problem too (index ``UNREADABLE``), never a pass.
    """
    try:
        for index, entry in file_entries(Path(path)):
            resource = entry.get("resource")
            problem = resource_problem(resource if isinstance(resource, dict) else {})
            if problem is not None:
                return index, problem
    except BundleLoadError as error:
        return UNREADABLE, f"the validation worker could not read it: {error.message}"
    return None


class BackgroundValidation:
    """A worker pool validating batches of resources; use as a context manager.

    ``submit`` returns at once with a future of the batch's first problem (or
    ``None``). Call ``result()`` on it before committing what the batch belongs to.
    """

    def __init__(self, workers: int = VALIDATION_WORKERS) -> None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(
            ["fhir_client.loading.validation", "fhir_client.loading.sources"]
        )
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)

    def submit(self, resources: Sequence[Mapping[str, Any]]) -> Future[Problem | None]:
        return self._pool.submit(first_problem, orjson.dumps(list(resources)))

    def submit_bundle(self, path: str) -> Future[Problem | None]:
        """Validate a whole bundle file in the worker, which reads it itself."""
        return self._pool.submit(first_problem_in_bundle, path)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> BackgroundValidation:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
