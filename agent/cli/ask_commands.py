"""``ehr-agent ask`` and ``ehr-agent summary``: answers and overviews with citations.

Both open the same data source as ``patients`` (``--db``/``--fhir-url``), check that
the patient exists before doing anything else (a typo'd id gets a clear error, exit 1),
and print either the human view (answer, a table of cited sources, a reminder that this
is not for clinical decisions) or, with ``--json``, exactly one JSON object on stdout.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from agent.audit import (
    AuditLog,
    attach,
    audited_access,
    audited_question,
    cli_caller,
    default_audit_path,
)
from agent.checkpoints import checkpoint_spec, open_checkpointer
from agent.cli import rendering
from agent.cli.fhir_source import open_fhir_client
from agent.cli.model_commands import ENV_MODEL, resolve_model_spec
from agent.cli.options import DbOption, FhirTokenOption, FhirUrlOption, settings_from_options
from agent.configuration import AgentContext
from agent.events import ask as ask_graph
from agent.events import new_thread_id
from agent.graph import build_graph
from agent.models.base import ChatModel, ModelError
from agent.models.spec import load_model
from agent.output import AgentOutput
from agent.settings import Settings
from agent.summary import SummaryOutput, patient_summary
from agent.threads import ThreadBusy, ThreadConflict, open_thread_registry
from fhir_client.client import FhirClient
from fhir_client.errors import FhirError, ResourceNotFound
from tools import make_toolset

DISCLAIMER = "Generated from the record for information only; not for clinical decisions."

PatientOption = Annotated[str, typer.Option("--patient", "-p", help="The patient's FHIR id.")]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help=(
            f"none, medgemma, PATH.gguf or openai:URL#model [env {ENV_MODEL}; default "
            "medgemma when it is downloaded, else none]."
        ),
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print only the JSON output contract on stdout.")
]


class CommandError(Exception):
    """A failure the user can fix; the message says how."""


def _model_spec(spec: str | None) -> str:
    """The chosen model: ``--model``, else ``$EHR_AGENT_MODEL``, else the default.

    The default is MedGemma when it is in the model cache and no model otherwise; the
    latter prints one notice on stderr saying how to get MedGemma, so the answer is
    not silently extractive.
    """
    chosen, notice = resolve_model_spec(spec)
    if notice:
        rendering.notify(notice)
    return chosen


def _model(spec: str | None) -> ChatModel | None:
    chosen = _model_spec(spec)
    try:
        return load_model(chosen)
    except (ModelError, ValueError, FileNotFoundError) as error:
        raise CommandError(f"Cannot use model {chosen!r}: {error}") from error


async def _check_patient(client: FhirClient, patient_id: str, settings: Settings) -> None:
    try:
        await client.read("Patient", patient_id)
    except ResourceNotFound as error:
        raise CommandError(
            f"No patient {patient_id!r} in the {settings.source_description}; "
            "list the ids with `ehr-agent patients`."
        ) from error


async def _ask(
    settings: Settings,
    patient_id: str,
    question: str,
    model: ChatModel | None,
    thread_id: str | None,
    checkpoint_db: Path | None,
) -> AgentOutput:
    caller, thread = cli_caller(), thread_id or new_thread_id()
    log = AuditLog(default_audit_path(settings))
    try:
        async with (
            audited_access(
                log,
                caller=caller,
                channel="cli",
                action="cli ask",
                target=f"Patient/{patient_id}",
                patient_id=patient_id,
                thread_id=thread,
            ),
            open_fhir_client(settings, notify=rendering.notify) as client,
        ):
            await _check_patient(client, patient_id, settings)
            target = checkpoint_spec(checkpoint_db) if thread_id or checkpoint_db else ":memory:"
            async with open_checkpointer(target) as saver, open_thread_registry(target) as threads:
                graph = build_graph(checkpointer=saver)
                context = AgentContext(toolset=make_toolset(client, patient_id), model=model)
                attach(client)
                claim = await threads.claim(caller, thread, patient_id)
                async with (
                    threads.turn(claim),
                    audited_question(
                        log, "ask", thread, patient_id, question, caller=caller
                    ) as turn,
                ):
                    output = await ask_graph(graph, context, question, thread_id=claim.key)
                    output.thread_id = thread
                    turn.answered(output)
                return output
    except (ThreadConflict, ThreadBusy) as error:
        raise CommandError(str(error)) from error
    finally:
        log.close()


def _fail(error: Exception, settings: Settings) -> typer.Exit:
    if isinstance(error, FhirError):
        rendering.notify(f"Error talking to the {settings.source_description}: {error}")
    else:
        rendering.notify(f"Error: {error}")
    return typer.Exit(1)


def ask(
    question: Annotated[str, typer.Argument(help="The question, in plain words.")],
    patient: PatientOption,
    model: ModelOption = None,
    as_json: JsonOption = False,
    thread: Annotated[
        str | None,
        typer.Option("--thread", help="Continue (or start) this conversation thread."),
    ] = None,
    checkpoint_db: Annotated[
        Path | None,
        typer.Option("--checkpoint-db", help="SQLite file for threads [default: data dir]."),
    ] = None,
    db: DbOption = None,
    fhir_url: FhirUrlOption = None,
    fhir_token: FhirTokenOption = None,
) -> None:
    """Answer one question about a patient, every fact cited to its FHIR resource."""
    settings = settings_from_options(db, fhir_url, fhir_token)
    try:
        chosen = _model(model)
        output = asyncio.run(_ask(settings, patient, question, chosen, thread, checkpoint_db))
    except (CommandError, FhirError, ModelError, ValueError) as error:
        raise _fail(error, settings) from error
    if as_json:
        sys.stdout.write(output.model_dump_json(indent=2) + "\n")
        return
    rendering.stdout.print(output.answer, highlight=False, markup=False, soft_wrap=True)
    if any(c.verified for c in output.citations):
        rendering.stdout.print(rendering.sources_table(output))
    rendering.stdout.print(f"[dim]{DISCLAIMER}[/dim]")


async def _summary(settings: Settings, patient_id: str, max_tokens: int) -> SummaryOutput:
    log = AuditLog(default_audit_path(settings))
    try:
        async with (
            audited_access(
                log,
                caller=cli_caller(),
                channel="cli",
                action="cli summary",
                target=f"Patient/{patient_id}",
                patient_id=patient_id,
            ),
            open_fhir_client(settings, notify=rendering.notify) as client,
        ):
            await _check_patient(client, patient_id, settings)
            return await patient_summary(make_toolset(client, patient_id), max_tokens=max_tokens)
    finally:
        log.close()


def summary(
    patient: PatientOption,
    model: ModelOption = None,
    as_json: JsonOption = False,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", help="Token budget of the summary text.")
    ] = 2048,
    db: DbOption = None,
    fhir_url: FhirUrlOption = None,
    fhir_token: FhirTokenOption = None,
) -> None:
    """A cited longitudinal overview: problems, medications, allergies, labs, vitals, visits.

    The overview is composed from the record itself, so ``--model`` is accepted for
    symmetry with ``ask`` but not needed.
    """
    settings = settings_from_options(db, fhir_url, fhir_token)
    try:
        chosen = _model_spec(model)
        if model or os.environ.get(ENV_MODEL):
            _model(chosen)  # validates a spec the user gave; the summary needs no model
        output = asyncio.run(_summary(settings, patient, max_tokens))
    except (CommandError, FhirError, ModelError, ValueError) as error:
        raise _fail(error, settings) from error
    if as_json:
        json.dump(output.model_dump(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    rendering.stdout.print(output.text, highlight=False, markup=False, soft_wrap=True)
    rendering.stdout.print(f"[dim]{DISCLAIMER}[/dim]")
