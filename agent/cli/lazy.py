"""Commands imported when they run, not when the CLI starts.

Why: ``ehr-agent --help`` and ``ehr-agent patients`` must not pay for LangGraph, the model
backends or FastAPI (about two seconds of imports on a laptop), and on the core install
(no ``agent`` extra) they must work at all.  Each command is named here with its module
and the first line of its docstring (a test keeps the two equal), and its module is
imported only when Click asks for that command.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import Any

import typer
import typer.core
import typer.main
from typer.models import CommandInfo

__all__ = ["COMMANDS", "LazyCommand", "LazyGroup"]


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives and the one line ``--help`` shows for it."""

    module: str
    attribute: str
    summary: str


COMMANDS: dict[str, LazyCommand] = {
    "load": LazyCommand(
        "agent.cli.load_commands",
        "load",
        "Load Synthea FHIR bundles or Bulk Data NDJSON (reference data first, ids kept).",
    ),
    "patients": LazyCommand(
        "agent.cli.data_commands",
        "patients",
        "List patients a page at a time: id, name, gender, birth date, resources by type.",
    ),
    "ask": LazyCommand(
        "agent.cli.ask_commands",
        "ask",
        "Answer one question about a patient, every fact cited to its FHIR resource.",
    ),
    "summary": LazyCommand(
        "agent.cli.ask_commands",
        "summary",
        "A cited longitudinal overview: problems, medications, allergies, labs, vitals, visits.",
    ),
    "chat": LazyCommand(
        "agent.cli.chat_commands",
        "chat",
        "Talk about one patient's record: questions, follow-ups, /summary, /sources, /help.",
    ),
    "model": LazyCommand(
        "agent.cli.model_commands",
        "app",
        "Download MedGemma into the model cache and see what is cached.",
    ),
    "replay": LazyCommand(
        "agent.cli.replay_commands",
        "replay",
        "Replay test patients: questions with answers from the record, scored, and a report.",
    ),
    "serve": LazyCommand(
        "agent.cli.serve_commands",
        "serve",
        "Serve the dashboard at / and the API (OpenAPI docs at /docs).",
    ),
    "audit": LazyCommand(
        "agent.cli.audit_commands",
        "audit",
        "Show the audit log: each answer with its citations and the FHIR requests it made.",
    ),
}


def load_target(name: str) -> Any:
    """The command's function (or sub-``Typer``), importing its module now."""
    entry = COMMANDS[name]
    return getattr(importlib.import_module(entry.module), entry.attribute)


class LazyGroup(typer.core.TyperGroup):
    """A Typer group whose commands come from :data:`COMMANDS` on first use."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *COMMANDS]

    def get_command(self, ctx: Any, name: str) -> Any:
        if name not in COMMANDS:
            return super().get_command(ctx, name)
        target = load_target(name)
        if isinstance(target, typer.Typer):
            group = typer.main.get_group(target)
            group.name = name
            return group
        return typer.main.get_command_from_info(
            CommandInfo(name=name, callback=target),
            pretty_exceptions_short=True,
            rich_markup_mode=None,
        )

    def invoke(self, ctx: Any) -> Any:
        """Run the command; a store another process keeps locked is a clear error.

        The store module is looked up, not imported, so ``--help`` stays fast: if it
        was never imported, no StoreBusy can have been raised.
        """
        try:
            return super().invoke(ctx)
        except Exception as error:
            schema = sys.modules.get("fhir_client.embedded.schema")
            if schema is not None and isinstance(error, schema.StoreBusy):
                typer.echo(f"Error: {error}", err=True)
                raise typer.Exit(1) from None
            raise

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """List the commands from their summaries, importing none of them."""
        rows = [(name, entry.summary) for name, entry in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)
