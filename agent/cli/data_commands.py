"""``ehr-agent patients``: see what is in the record, a page at a time.

Loading lives in :mod:`agent.cli.load_commands`, so listing never imports the loader
(nor fhir.resources, which it validates with).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from agent.audit import AuditLog, audited_access, cli_caller, default_audit_path, recorded_access
from agent.cli import rendering
from agent.cli.options import DbOption, FhirTokenOption, FhirUrlOption, settings_from_options
from agent.patients import PatientListing, list_embedded_patients, list_patients
from agent.record_source import open_embedded_directory, open_patient_directory
from agent.settings import Settings
from fhir_client.errors import FhirError
from fhir_client.limits import DEFAULT_PATIENT_PAGE, MAX_NAME_QUERY_CHARS, MAX_PATIENT_PAGE


def _patients(settings: Settings, name: str | None, count: int, offset: int) -> PatientListing:
    """The page, audited. The embedded store is read without an event loop: asyncio,
    its loop and a worker thread were a fifth of this command's start-up beyond typer
    (``bench/startup.py``); a remote server is read with the async client."""
    if settings.fhir_url:
        import asyncio

        return asyncio.run(_remote_patients(settings, name, count, offset))
    log = AuditLog(default_audit_path(settings))
    try:
        with (
            recorded_access(
                log, caller=cli_caller(), channel="cli", action="cli patients", target="Patient"
            ),
            open_embedded_directory(settings, notify=rendering.notify) as store,
        ):
            return list_embedded_patients(store, name=name, count=count, offset=offset)
    finally:
        log.close()


async def _remote_patients(
    settings: Settings, name: str | None, count: int, offset: int
) -> PatientListing:
    log = AuditLog(default_audit_path(settings))
    try:
        async with (
            audited_access(
                log, caller=cli_caller(), channel="cli", action="cli patients", target="Patient"
            ),
            open_patient_directory(settings, notify=rendering.notify) as directory,
        ):
            return await list_patients(directory, name=name, count=count, offset=offset)
    finally:
        log.close()


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
        listing = _patients(settings, name, count, offset)
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
