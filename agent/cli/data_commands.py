"""``ehr-agent load`` and ``ehr-agent patients``: get records in, see what is there."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from agent.audit import AuditLog, audited_access, cli_caller, default_audit_path
from agent.cli import rendering
from agent.cli.fhir_source import LOAD_TIMEOUT_SECONDS, open_fhir_client
from agent.cli.options import DbOption, FhirTokenOption, FhirUrlOption, settings_from_options
from agent.cli.patient_summary import PatientSummary, list_patients
from agent.settings import Settings
from fhir_client.errors import FhirError
from fhir_client.loading import LoadReport, load_paths
from fhir_client.loading.discovery import expand_paths


async def _load(settings: Settings, paths: list[Path], validate: bool) -> LoadReport:
    async with open_fhir_client(
        settings, fill_if_empty=False, timeout=LOAD_TIMEOUT_SECONDS, notify=rendering.notify
    ) as client:
        with rendering.load_progress() as on_progress:
            return await load_paths(client, paths, on_progress=on_progress, validate=validate)


def load(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Synthea bundle files or directories (searched recursively)."),
    ],
    validate: Annotated[
        bool,
        typer.Option(help="Check every resource against FHIR R4 before sending it."),
    ] = True,
    db: DbOption = None,
    fhir_url: FhirUrlOption = None,
    fhir_token: FhirTokenOption = None,
) -> None:
    """Load Synthea FHIR bundles (practitioner/hospital bundles first, ids kept).

    Each file is one transaction: a file that fails changes nothing and is
    reported; the others still load. Exit code 1 if any file failed.
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
    rendering.print_load_summary(report)
    rendering.report_failures(report)
    if report.failures:
        raise typer.Exit(1)


async def _patients(settings: Settings) -> list[PatientSummary]:
    log = AuditLog(default_audit_path(settings))
    try:
        async with (
            audited_access(
                log, caller=cli_caller(), channel="cli", action="cli patients", target="Patient"
            ),
            open_fhir_client(settings, notify=rendering.notify) as client,
        ):
            return await list_patients(client)
    finally:
        log.close()


def patients(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print only a JSON list on stdout (for scripts).")
    ] = False,
    db: DbOption = None,
    fhir_url: FhirUrlOption = None,
    fhir_token: FhirTokenOption = None,
) -> None:
    """List patients: id, name, gender, birth date and resource counts by type."""
    settings = settings_from_options(db, fhir_url, fhir_token)
    try:
        summaries = asyncio.run(_patients(settings))
    except FhirError as error:
        rendering.notify(f"Error talking to the {settings.source_description}: {error}")
        raise typer.Exit(1) from error
    if as_json:
        json.dump([summary.as_json() for summary in summaries], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    rendering.stdout.print(rendering.patients_table(summaries))
