"""``ehr-agent ask`` and ``ehr-agent summary``: answers and overviews with citations.

Both are adapters over :class:`agent.assistant.Assistant`: they open it on the same data
source as ``patients`` (``--db``/``--fhir-url``), which checks that the patient exists
before anything else (a typo'd id gets a clear error, exit 1), and print either the human
view (answer, a table of cited sources, a reminder that this is not for clinical
decisions) or, with ``--json``, exactly one JSON object on stdout.

The agent (LangGraph, the model backends) is imported inside the commands, so ``--help``
and the other commands start without it, and the core install explains which extra to
add instead of failing on an import.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from agent.cli import rendering
from agent.cli.agent_extra import require_agent_extra
from agent.cli.options import DbOption, FhirTokenOption, FhirUrlOption, settings_from_options
from agent.models.spec import ENV_MODEL, resolve_model_spec
from agent.settings import Settings
from fhir_client.errors import FhirError

if TYPE_CHECKING:
    from agent.models.base import ChatModel
    from agent.output import AgentOutput
    from agent.summary import SummaryOutput

DISCLAIMER = "Generated from the record for information only; not for clinical decisions."
PATIENTS_HINT = "list the ids with `ehr-agent patients`."

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
CheckpointOption = Annotated[
    str | None,
    typer.Option(
        "--checkpoint-db",
        help="SQLite file or postgresql:// URL for threads [default: next to --db].",
        show_default=False,
    ),
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
    from agent.models import spec as specs
    from agent.models.base import ModelError

    chosen = _model_spec(spec)
    try:
        return specs.load_model(chosen)
    except (ModelError, ValueError, FileNotFoundError) as error:
        raise CommandError(f"Cannot use model {chosen!r}: {error}") from error


def _patient_error(error: Exception) -> CommandError:
    return CommandError(f"{error}; {PATIENTS_HINT}")


async def _ask(
    settings: Settings,
    patient_id: str,
    question: str,
    model: ChatModel | None,
    thread_id: str | None,
    checkpoint: str | None,
) -> AgentOutput:
    from agent.assistant import Assistant
    from agent.cli.chat_commands import checkpoint_target
    from agent.events import new_thread_id
    from agent.refusals import UnknownPatient

    # One question without a thread needs no thread store.
    target = checkpoint_target(settings, checkpoint) if thread_id or checkpoint else ":memory:"
    thread = thread_id or new_thread_id()
    async with (
        Assistant.open(
            settings, model=model, checkpoint=target, notify=rendering.notify
        ) as assistant,
        assistant.access(
            "cli ask", target=f"Patient/{patient_id}", patient_id=patient_id, thread_id=thread
        ),
    ):
        try:
            return await assistant.ask(patient_id, question, thread_id=thread)
        except UnknownPatient as error:
            raise _patient_error(error) from error


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
    checkpoint_db: CheckpointOption = None,
    db: DbOption = None,
    fhir_url: FhirUrlOption = None,
    fhir_token: FhirTokenOption = None,
) -> None:
    """Answer one question about a patient, every fact cited to its FHIR resource."""
    require_agent_extra("ask")
    from agent.models.base import ModelError
    from agent.refusals import AssistantError

    settings = settings_from_options(db, fhir_url, fhir_token)
    try:
        chosen = _model(model)
        output = asyncio.run(_ask(settings, patient, question, chosen, thread, checkpoint_db))
    except (CommandError, AssistantError, FhirError, ModelError, ValueError) as error:
        raise _fail(error, settings) from error
    if as_json:
        sys.stdout.write(output.model_dump_json(indent=2) + "\n")
        return
    rendering.stdout.print(output.answer, highlight=False, markup=False, soft_wrap=True)
    if any(c.verified for c in output.citations):
        rendering.stdout.print(rendering.sources_table(output))
    rendering.stdout.print(f"[dim]{DISCLAIMER}[/dim]")


async def _summary(settings: Settings, patient_id: str, max_tokens: int) -> SummaryOutput:
    """Without the Assistant: the summary needs the record and the tools, no LangGraph.

    Audited like every read (who, which patient, the outcome), in the same log."""
    from agent.audit import AuditLog, audited_access, cli_caller, default_audit_path
    from agent.record_source import open_record
    from agent.refusals import UnknownPatient, read_patient
    from agent.summary import patient_summary
    from tools import make_toolset

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
            open_record(settings, notify=rendering.notify) as source,
        ):
            try:
                await read_patient(source.client, patient_id, source.description)
            except UnknownPatient as error:
                raise _patient_error(error) from error
            return await patient_summary(
                make_toolset(source.client, patient_id), max_tokens=max_tokens
            )
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
    symmetry with ``ask`` and checked, but never loaded.
    """
    from agent.models.base import ModelError
    from agent.models.spec import check_spec

    settings = settings_from_options(db, fhir_url, fhir_token)
    try:
        chosen = _model_spec(model)
        if model or os.environ.get(ENV_MODEL):
            try:
                check_spec(chosen)  # a typo is an error; nothing is loaded
            except (ModelError, ValueError, FileNotFoundError) as error:
                raise CommandError(f"Cannot use model {chosen!r}: {error}") from error
        output = asyncio.run(_summary(settings, patient, max_tokens))
    except (CommandError, FhirError, ValueError) as error:
        raise _fail(error, settings) from error
    if as_json:
        json.dump(output.model_dump(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    rendering.stdout.print(output.text, highlight=False, markup=False, soft_wrap=True)
    rendering.stdout.print(f"[dim]{DISCLAIMER}[/dim]")
