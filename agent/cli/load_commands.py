"""``ehr-agent load``: Synthea bundles or Bulk Data NDJSON into the store or a server.

Apart from ``patients`` (:mod:`agent.cli.data_commands`) because the loader and its
validation (fhir.resources) cost a listing about 0.2 s of start-up it never uses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from agent.cli import rendering
from agent.cli.options import DbOption, FhirTokenOption, FhirUrlOption, settings_from_options
from agent.cli.rendering import stderr, stdout
from agent.record_source import (
    LOAD_REQUEST_DEADLINE_SECONDS,
    LOAD_TIMEOUT_SECONDS,
    open_fhir_client,
)
from agent.settings import Settings
from fhir_client.embedded import StoreBusy
from fhir_client.errors import FhirError
from fhir_client.loading import LoadEvent, LoadReport, LoadStage, load_paths
from fhir_client.loading.discovery import expand_paths


async def _load(
    settings: Settings, paths: list[Path], validate: bool, background_validation: bool
) -> LoadReport:
    async with open_fhir_client(
        settings,
        fill_if_empty=False,
        timeout=LOAD_TIMEOUT_SECONDS,
        deadline_seconds=LOAD_REQUEST_DEADLINE_SECONDS,
        notify=rendering.notify,
    ) as client:
        with load_progress() as on_progress:
            return await load_paths(
                client,
                paths,
                on_progress=on_progress,
                validate=validate,
                background_validation=background_validation,
            )


@contextmanager
def load_progress() -> Iterator[Callable[[LoadEvent], None]]:
    """A progress bar (weighted by file size) fed by the loader's events."""
    with Progress(
        TextColumn("[bold]{task.description}", justify="left"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[file]}"),
        TimeElapsedColumn(),
        console=stderr,
        transient=False,
    ) as progress:
        task = progress.add_task("Loading", total=None, file="")

        def on_event(event: LoadEvent) -> None:
            if event.stage is LoadStage.PLANNED:
                progress.update(task, total=event.bytes_total)
            elif event.stage is LoadStage.FILE_STARTED and event.file is not None:
                progress.update(task, file=event.file.path.name)
            elif event.stage is LoadStage.FILE_FINISHED:
                progress.update(task, completed=event.bytes_done, file="")

        yield on_event


def print_load_summary(report: LoadReport) -> None:
    """Resources by type, then one line each for files, references and rate (stdout)."""
    table = Table(title="Loaded")
    table.add_column("Resource type")
    table.add_column("Count", justify="right")
    for resource_type, count in report.resources_by_type.items():
        table.add_row(resource_type, str(count))
    table.add_section()
    table.add_row("[bold]All resources", f"[bold]{report.resource_count}")
    stdout.print(table)
    lines = [
        f"Files: {len(report.loaded_files)} loaded, {len(report.failures)} failed, "
        f"{len(report.skipped_files)} other files skipped (not .json, or JSON that is not "
        "a FHIR Bundle).",
        f"Patients: {report.patient_count}.",
        f"Unresolved references: {report.unresolved_references} "
        "(kept as practitioner/organization identifiers).",
        f"Rate: {report.resources_per_second:.0f} resources/s over {report.elapsed_seconds:.1f} s.",
    ]
    for line in lines:
        stdout.print(line, highlight=False, markup=False, soft_wrap=True)


def report_failures(report: LoadReport) -> None:
    for failure in report.failures:
        stderr.print(f"[red]Not loaded:[/red] {failure.error}", highlight=False, soft_wrap=True)
    if report.failures:
        stderr.print(
            f"{len(report.failures)} file(s) failed; each failed file changed nothing. "
            "Fix or remove them and run the same command again (loading is repeatable).",
            highlight=False,
            soft_wrap=True,
        )


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
    background_validation: Annotated[
        bool,
        typer.Option(
            help="Validate in a worker process beside the loader: the same checks and "
            "messages, on another core. Faster only with more than 2 cores free; on 2 "
            "busy cores it measured 0.82x the inline rate. Needs --validate."
        ),
    ] = False,
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
    if background_validation and not validate:
        rendering.notify(
            "Error: --background-validation validates in a worker process, but --no-validate "
            "turns validation off. Drop one of the two options."
        )
        raise typer.Exit(2)
    settings = settings_from_options(db, fhir_url, fhir_token)
    try:
        expand_paths(paths)  # a typo in a path stops here, before the store is touched
    except (FileNotFoundError, ValueError) as error:
        rendering.notify(f"Error: {error}")
        raise typer.Exit(2) from error
    rendering.notify(f"Loading into the {settings.source_description}.")
    try:
        report = asyncio.run(_load(settings, paths, validate, background_validation))
    except FhirError as error:
        rendering.notify(f"Error talking to the {settings.source_description}: {error}")
        raise typer.Exit(1) from error
    except StoreBusy as error:
        rendering.notify(f"Error: {error}")
        raise typer.Exit(1) from None
    print_load_summary(report)
    report_failures(report)
    if report.failures:
        raise typer.Exit(1)
