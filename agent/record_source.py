"""Open the record the settings name: a remote FHIR server or the embedded store.

Every door (the CLI's commands, the API, the LangGraph server, replay, the benches) goes
through :func:`open_record` (or :func:`open_fhir_client` when only the client matters),
so they all see the same data the same way, and the first use of an empty embedded store
fills it from ``synthea_fixtures/`` exactly once.  It lives below the doors so none of
them imports another; it imports no LangGraph and no model, so ``load`` and ``patients``
work on the core install.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agent.settings import Settings
from fhir_client.embedded import EmbeddedStore, embedded_client
from fhir_client.limits import (
    LOAD_REQUEST_DEADLINE_SECONDS,
    LOAD_TIMEOUT_SECONDS,
    READ_TIMEOUT_SECONDS,
    REQUEST_DEADLINE_SECONDS,
)

if TYPE_CHECKING:  # the loader is imported on first fill only: listing never needs it
    from fhir_client.client import FhirClient
    from fhir_client.loading import LoadReport

__all__ = [
    "LOAD_REQUEST_DEADLINE_SECONDS",
    "LOAD_TIMEOUT_SECONDS",
    "READ_TIMEOUT_SECONDS",
    "Notify",
    "RecordSource",
    "fill_from_fixtures",
    "open_embedded_store",
    "open_fhir_client",
    "open_patient_directory",
    "open_record",
]

Notify = Callable[[str], None]


def _ignore(_message: str) -> None:
    return None


@dataclass(frozen=True)
class RecordSource:
    """An open record: the client every read goes through, and the store when embedded.

    ``store`` is what the API's read-only ``/fhir`` facade serves; ``None`` for a remote
    server, whose reads the API proxies through ``client`` instead.
    """

    client: FhirClient
    description: str
    store: EmbeddedStore | None = None


def open_embedded_store(db_path: Path) -> EmbeddedStore:
    """Open (creating its directory if needed) the SQLite-backed store."""
    if str(db_path) != ":memory:":
        db_path.parent.mkdir(parents=True, exist_ok=True)
    return EmbeddedStore(db_path)


async def fill_from_fixtures(
    store: EmbeddedStore, fixtures_dir: Path, notify: Notify = _ignore
) -> LoadReport | None:
    """Load the bundled Synthea fixtures into an empty store; ``None`` if there are none."""
    if not fixtures_dir.is_dir():  # noqa: ASYNC240 - one stat, before any I/O-heavy work
        notify(
            f"The embedded store is empty and no fixtures were found at {fixtures_dir}; "
            "load data with `ehr-agent load PATH...`."
        )
        return None
    notify(f"The embedded store is empty; loading the Synthea fixtures from {fixtures_dir} once.")
    from fhir_client.loading import load_paths  # once per store: not on every command's path

    async with embedded_client(
        store, timeout=LOAD_TIMEOUT_SECONDS, deadline_seconds=LOAD_REQUEST_DEADLINE_SECONDS
    ) as client:
        report = await load_paths(client, [fixtures_dir])
    notify(
        f"Loaded {report.patient_count} patients ({report.resource_count} resources) "
        f"in {report.elapsed_seconds:.1f} s."
    )
    for failure in report.failures:
        notify(f"Could not load {failure.error}")
    return report


@asynccontextmanager
async def open_record(
    settings: Settings,
    *,
    fill_if_empty: bool = True,
    timeout: float = READ_TIMEOUT_SECONDS,  # noqa: ASYNC109 - the HTTP client's per-request timeout
    notify: Notify = _ignore,
    store: EmbeddedStore | None = None,
    deadline_seconds: float = REQUEST_DEADLINE_SECONDS,
) -> AsyncIterator[RecordSource]:
    """Yield the open :class:`RecordSource` for the configured data source.

    ``fill_if_empty`` applies to the embedded store only: a command that reads
    (``patients``) wants the fixtures there; ``load`` does not (it is about to put data
    there itself).  ``notify`` receives one-line messages for the user (the CLI sends
    them to stderr so stdout stays clean).  ``store`` is an already-open embedded store
    to use (the LangGraph server opens it at import, off the event loop); the caller
    keeps ownership of it.  ``deadline_seconds`` bounds one request in total (retries
    included); ``load`` passes ``LOAD_REQUEST_DEADLINE_SECONDS``.
    """
    description = settings.source_description
    if settings.fhir_url:
        from fhir_client.auth import BearerTokenAuth
        from fhir_client.client import FhirClient

        auth = BearerTokenAuth(settings.fhir_token) if settings.fhir_token else None
        async with FhirClient(
            settings.fhir_url, auth=auth, timeout=timeout, deadline_seconds=deadline_seconds
        ) as client:
            yield RecordSource(client, description)
        return
    owned = store is None
    opened = open_embedded_store(settings.db_path) if store is None else store
    try:
        if fill_if_empty and opened.is_empty():
            await fill_from_fixtures(opened, settings.fixtures_dir, notify)
        async with embedded_client(
            opened, timeout=timeout, deadline_seconds=deadline_seconds
        ) as client:
            yield RecordSource(client, description, opened)
    finally:
        if owned:
            opened.close()


@asynccontextmanager
async def open_fhir_client(
    settings: Settings,
    *,
    fill_if_empty: bool = True,
    timeout: float = READ_TIMEOUT_SECONDS,  # noqa: ASYNC109 - the HTTP client's per-request timeout
    notify: Notify = _ignore,
    deadline_seconds: float = REQUEST_DEADLINE_SECONDS,
) -> AsyncIterator[FhirClient]:
    """Only the client of :func:`open_record` (``load`` and ``patients`` need no more)."""
    async with open_record(
        settings,
        fill_if_empty=fill_if_empty,
        timeout=timeout,
        notify=notify,
        deadline_seconds=deadline_seconds,
    ) as source:
        yield source.client


@asynccontextmanager
async def open_patient_directory(
    settings: Settings, *, notify: Notify = _ignore
) -> AsyncIterator[FhirClient | EmbeddedStore]:
    """What :func:`agent.patients.list_patients` reads: the embedded store itself, or
    the remote server's client.

    Why not always the client: the embedded store lists its patients from its own
    indexes anyway (:func:`fhir_client.directory.patient_page`), so building the
    in-process FHIR facade and an HTTP client only to reach it cost ``ehr-agent
    patients`` the import of httpx and Starlette for nothing (``bench/startup.py``).
    An empty store is still filled from the fixtures first, as :func:`open_record` does.
    """
    if settings.fhir_url:
        async with open_fhir_client(settings, notify=notify) as client:
            yield client
        return
    store = open_embedded_store(settings.db_path)
    try:
        if store.is_empty():
            await fill_from_fixtures(store, settings.fixtures_dir, notify)
        yield store
    finally:
        store.close()


@contextmanager
def open_embedded_directory(
    settings: Settings, *, notify: Notify = _ignore
) -> Iterator[EmbeddedStore]:
    """:func:`open_patient_directory` for the embedded store, outside an event loop.

    Listing an embedded store is a few SQLite queries; ``ehr-agent patients`` reads them
    without starting asyncio (``bench/startup.py``). Only an empty store, filled from
    the fixtures by the async loader, runs a loop for that once.
    """
    store = open_embedded_store(settings.db_path)
    try:
        if store.is_empty():
            import asyncio

            asyncio.run(fill_from_fixtures(store, settings.fixtures_dir, notify))
        yield store
    finally:
        store.close()
