"""The ``ehr-agent`` command line (console script ``ehr-agent = agent.cli:app``).

Commands live in small modules and are registered here; they share the
data-source options (:mod:`agent.cli.options`) and one way of opening the
FHIR client (:mod:`agent.cli.fhir_source`).
"""

from __future__ import annotations

import logging

import typer

from agent.cli import (
    ask_commands,
    audit_commands,
    chat_commands,
    data_commands,
    model_commands,
    replay_commands,
    serve_commands,
)

app = typer.Typer(
    name="ehr-agent",
    help="Answer questions about one patient's FHIR R4 record, with citations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold tokens or patient data
    # Help texts say "[env EHR_AGENT_DB]": plain text, not Rich markup to be swallowed.
    rich_markup_mode=None,
)


@app.callback()
def main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log details to stderr."),
) -> None:
    """Answer questions about one patient's FHIR R4 record, with citations."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # aiosqlite logs every statement's arguments at DEBUG: checkpoints hold evidence
    # and note text, which must never reach logs.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)


app.command("load")(data_commands.load)
app.command("patients")(data_commands.patients)
app.command("ask")(ask_commands.ask)
app.command("summary")(ask_commands.summary)
app.command("chat")(chat_commands.chat)
app.add_typer(model_commands.app, name="model")
app.command("replay")(replay_commands.replay)
app.command("serve")(serve_commands.serve)
app.command("audit")(audit_commands.audit)

__all__ = ["app"]
