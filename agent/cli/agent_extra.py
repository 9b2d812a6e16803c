"""The one check a command makes before it needs the agent (LangGraph): is it installed?

``pip install ehr-agent`` is the FHIR layer and the CLI; the agent is the ``agent`` extra.
A command that answers questions says which extra to install, rather than failing on an
import deep inside LangGraph.
"""

from __future__ import annotations

import importlib.util

import typer

from agent.cli import rendering

__all__ = ["AGENT_EXTRA_HINT", "require_agent_extra"]

AGENT_EXTRA_HINT = "pip install 'ehr-agent[agent]'"
AGENT_MODULES = ("langgraph", "langgraph.checkpoint.sqlite")
"""What the agent extra brings that the core install lacks."""


def require_agent_extra(command: str) -> None:
    """Exit 1 with the install command when the agent extra is missing."""
    missing = [name for name in AGENT_MODULES if _missing(name)]
    if missing:
        rendering.notify(
            f"Error: `ehr-agent {command}` needs the agent extra ({', '.join(missing)} "
            f"is not installed): {AGENT_EXTRA_HINT}"
        )
        raise typer.Exit(1)


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except ModuleNotFoundError:  # the parent package is missing
        return True
