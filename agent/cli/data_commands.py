"""``ehr-agent load`` and ``ehr-agent patients``: get records in, see what is there."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from agent.cli import rendering
from agent.cli.fhir_source import (
    LOAD_REQUEST_DEADLINE_SECONDS,
    LOAD_TIMEOUT_SECONDS,
    open_fhir_client,
)
from agent.cli.options import DbOption, FhirTokenOption, FhirUrlOption, settings_from_options
from agent.cli.patient_summary import PatientListing, list_patients
from agent.settings import Settings
from fhir_client.embedded import StoreBusy
from fhir_client.errors import FhirError
from fhir_client.limits import DEFAULT_PATIENT_PAGE, MAX_NAME_QUERY_CHARS, MAX_PATIENT_PAGE
from fhir_client.loading import LoadReport, load_paths
from fhir_client.loading.discovery import expand_paths


async def _load(settings: Settings, paths: list[Path], validate: bool) -> LoadReport:
    async with open_fhir_client(
        settings,
        fill_if_empty=False,
        timeout=LOAD_TIMEOUT_SECONDS,
        deadline_seconds=LOAD_REQUEST_DEADLINE_SECONDS,
        notify=rendering.notify,
    ) as client:
        with rendering.load_progress() as on_progress:
            return await load_paths(client, paths, on_progress=on_progress, validate=validate)


def load(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Synthea bundle files, FHIR Bulk Data .ndjson files, or directories "
            "(searched recursively)."
        ),
    ],
    validate: Annotated[
        bool,
        typer.Option(help="Check every resource against FHIR R4 before sending it."),
    ] = True,
    db: DbOption = None,
    fhir_url: FhirUrlOption = None,
    fhir_token: FhirTokenOption = None,
) -> None:
    """Load Synthea FHIR bundles or Bulk Data NDJSON (reference data first, ids kept).

    Each file is one transaction: a file that fails changes nothing and is
    reported; the others still load. Exit code 1 if any file failed. Files are
    streamed, so a 180 MB lifetime bundle needs little memory. Another process
    writing to the same store is waited for.
    """
    settings = settings_from_options(db, fhir_url, fhir_token)
    try:
        expand_paths(paths)  # a typo in a path stops here, before the store is touched
    except (FileNotFoundError, ValueError) as error:
        rendering.notify(f"Error: {error}")
        raise typer.Exit(2) from error
    rendering.notify(f"Loading into the {settings.source_description}.")
    try:
        report = asyncio.run(_load(settings, paths, validate))
    except FhirError as error:
        rendering.notify(f"Error talking to the {settings.source_description}: {error}")
        raise typer.Exit(1) from error
    except StoreBusy as error:
        rendering.notify(f"Error: {error}")
        raise typer.Exit(1) from None
    rendering.print_load_summary(report)
    rendering.report_failures(report)
    if report.failures:
        raise typer.Exit(1)


async def _patients(
    settings: Settings, name: str | None, count: int, offset: int
) -> PatientListing:
    async with open_fhir_client(settings, notify=rendering.notify) as client:
        return await list_patients(client, name=name, count=count, offset=offset)


def patients(
    name: Annotated[
        str | None,
        typer.Option(help="Only patients with a name part starting with this (FHIR name=)."),
    ] = None,
    count: Annotated[
        int,
        typer.Option(min=1, max=MAX_PATIENT_PAGE, help="Patients per page."),
    ] = DEFAULT_PATIENT_PAGE,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many patients (paging).")] = 0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print only a JSON list on stdout (for scripts).")
    ] = False,
    db: DbOption = None,
    fhir_url: FhirUrlOption = None,
    fhir_token: FhirTokenOption = None,
) -> None:
    """List patients a page at a time: id, name, gender, birth date, resources by type.

    Sorted by family then given name. In a pipe each patient is one tab-separated
    line (id first); how many more there are is said on stderr.
    """
    if name is not None and len(name) > MAX_NAME_QUERY_CHARS:
        rendering.notify(f"Error: --name is at most {MAX_NAME_QUERY_CHARS} characters.")
        raise typer.Exit(2)
    settings = settings_from_options(db, fhir_url, fhir_token)
    try:
        listing = asyncio.run(_patients(settings, name, count, offset))
    except FhirError as error:
        rendering.notify(f"Error talking to the {settings.source_description}: {error}")
        raise typer.Exit(1) from error
    if as_json:
        json.dump([summary.as_json() for summary in listing.patients], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        rendering.print_patients(listing.patients)
    rendering.notify(_page_note(listing, count))


def _page_note(listing: PatientListing, count: int) -> str:
    shown = len(listing.patients)
    first, last = listing.offset + 1, listing.offset + shown
    of = f" of {listing.total}" if listing.total is not None else ""
    if not shown:
        return (
            f"No patients after the first {listing.offset}{of}."
            if listing.offset
            else ("No patients.")
        )
    note = f"Patients {first}-{last}{of}."
    if listing.more:
        note += f" {listing.more} more: add --offset {last} (and --count up to {MAX_PATIENT_PAGE})."
    elif listing.more is None and shown == count:
        note += f" There may be more: add --offset {last}."
    return note
