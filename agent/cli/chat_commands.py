"""``ehr-agent chat``: an interactive REPL about one patient at a time.

This module only turns options into a :class:`~agent.cli.repl.SessionSetup` and picks
the input reader; the session itself lives in :mod:`agent.cli.repl`. The data source
options are the ones every command shares, the model follows ``--model``, then
``EHR_AGENT_MODEL``, then the default (``medgemma`` when cached, else ``none``, said once).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import platformdirs
import typer

from agent.checkpoints import default_checkpoint_path
from agent.cli import rendering
from agent.cli.agent_extra import require_agent_extra
from agent.cli.ask_commands import CheckpointOption, ModelOption
from agent.cli.options import DbOption, FhirTokenOption, FhirUrlOption, settings_from_options
from agent.models.spec import resolve_model_spec
from agent.settings import APP_NAME, Settings
from fhir_client.errors import FhirError

if TYPE_CHECKING:
    from agent.cli.repl.input import LineReader

__all__ = ["chat", "checkpoint_target", "history_path"]

THREADS_FILE = "threads.sqlite"
HISTORY_FILE = "chat_history"


def checkpoint_target(settings: Settings, option: str | None) -> str:
    """Threads live next to the embedded store (so ``--db`` keeps a project self-contained).

    ``option`` is a SQLite path or a ``postgresql://`` URL, passed on as text: a URL
    taken for a path would quietly become a stray SQLite file.  With a remote server
    and no option there is no store file; the per-user default is used.
    """
    if option:
        return option
    if settings.uses_embedded_store and str(settings.db_path) != ":memory:":
        return str(settings.db_path.parent / THREADS_FILE)
    return str(default_checkpoint_path())


def history_path() -> Path:
    """Input history in the per-user data directory (XDG_DATA_HOME on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / HISTORY_FILE


def _reader(keep_history: bool) -> LineReader:
    from agent.cli.repl.input import PlainReader, PromptReader, open_history

    if sys.stdin.isatty() and sys.stdout.isatty():
        return PromptReader(open_history(history_path() if keep_history else None))
    return PlainReader()


def chat(
    patient: Annotated[
        str | None,
        typer.Option("--patient", "-p", help="The patient's FHIR id (else choose by id or name)."),
    ] = None,
    model: ModelOption = None,
    thread: Annotated[
        str | None,
        typer.Option("--thread", help="Continue this conversation thread (default: a new one)."),
    ] = None,
    checkpoint_db: CheckpointOption = None,
    history: Annotated[
        bool,
        typer.Option(
            "--history/--no-history", help="Keep input history in the per-user data directory."
        ),
    ] = True,
    db: DbOption = None,
    fhir_url: FhirUrlOption = None,
    fhir_token: FhirTokenOption = None,
) -> None:
    """Talk about one patient's record: questions, follow-ups, /summary, /sources, /help.

    Enter sends; Alt-Enter or a trailing backslash continues the question on a new line.
    Ctrl-C cancels the answer being written; Ctrl-D or /quit leaves.
    """
    require_agent_extra("chat")
    from agent.cli.repl.session import SessionSetup, UnknownPatient, run_chat
    from agent.cli.repl.view import ChatView

    settings = settings_from_options(db, fhir_url, fhir_token)
    view = ChatView(rendering.stdout)
    spec, notice = resolve_model_spec(model)
    if notice:
        view.notice(notice)
    setup = SessionSetup(
        settings=settings,
        model_spec=spec,
        checkpoint=checkpoint_target(settings, checkpoint_db),
        patient_id=patient,
        thread_id=thread,
    )
    try:
        asyncio.run(run_chat(setup, _reader(history), view))
    except UnknownPatient as error:
        rendering.notify(f"Error: {error}")
        raise typer.Exit(1) from error
    except FhirError as error:
        rendering.notify(f"Error talking to the {settings.source_description}: {error}")
        raise typer.Exit(1) from error
    except KeyboardInterrupt as error:  # Ctrl-C with piped input, where it is a signal
        raise typer.Exit(130) from error
