"""The ``ehr-agent`` command line (console script ``ehr-agent = agent.cli:app``).

Commands live in small modules, named in :mod:`agent.cli.lazy` and imported only when
they run (so ``--help`` starts at once, and the core install runs ``load`` and
``patients`` without the agent); they share the data-source options
(:mod:`agent.cli.options`) and one way of opening the record
(:mod:`agent.record_source`).
"""

from __future__ import annotations

import logging

import typer

from agent.cli.lazy import LazyGroup

app = typer.Typer(
    name="ehr-agent",
    cls=LazyGroup,  # each command's module is imported when that command runs
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


__all__ = ["app"]
