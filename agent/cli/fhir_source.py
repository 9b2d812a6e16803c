"""Open the FHIR client the settings ask for: a remote server or the embedded store.

Every command that reads or writes the record goes through
:func:`open_fhir_client`, so ``patients``, ``ask``, ``chat`` and ``serve``
see the same data the same way, and the first use of an empty embedded
store fills it from ``synthea_fixtures/`` exactly once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from agent.settings import Settings
from fhir_client.auth import BearerTokenAuth
from fhir_client.client import FhirClient
from fhir_client.embedded import EmbeddedStore, embedded_client
from fhir_client.limits import (
    LOAD_REQUEST_DEADLINE_SECONDS,
    LOAD_TIMEOUT_SECONDS,
    READ_TIMEOUT_SECONDS,
    REQUEST_DEADLINE_SECONDS,
)
from fhir_client.loading import LoadReport, load_paths

Notify = Callable[[str], None]

__all__ = [
    "LOAD_REQUEST_DEADLINE_SECONDS",
    "LOAD_TIMEOUT_SECONDS",
    "READ_TIMEOUT_SECONDS",
    "fill_from_fixtures",
    "open_embedded_store",
    "open_fhir_client",
]


def _ignore(_message: str) -> None:
    return None


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
async def open_fhir_client(
    settings: Settings,
    *,
    fill_if_empty: bool = True,
    timeout: float = READ_TIMEOUT_SECONDS,  # noqa: ASYNC109 - the HTTP client's per-request timeout
    notify: Notify = _ignore,
    deadline_seconds: float = REQUEST_DEADLINE_SECONDS,
) -> AsyncIterator[FhirClient]:
    """Yield a ready :class:`FhirClient` for the configured data source.

    ``fill_if_empty`` applies to the embedded store only: a command that
    reads (``patients``) wants the fixtures there; ``load`` does not (it is
    about to put data there itself). ``notify`` receives one-line messages
    for the user (the CLI sends them to stderr so stdout stays clean).
    """
    if settings.fhir_url:
        auth = BearerTokenAuth(settings.fhir_token) if settings.fhir_token else None
        async with FhirClient(
            settings.fhir_url, auth=auth, timeout=timeout, deadline_seconds=deadline_seconds
        ) as client:
            yield client
        return
    store = open_embedded_store(settings.db_path)
    try:
        if fill_if_empty and store.is_empty():
            await fill_from_fixtures(store, settings.fixtures_dir, notify)
        async with embedded_client(
            store, timeout=timeout, deadline_seconds=deadline_seconds
        ) as client:
            yield client
    finally:
        store.close()
