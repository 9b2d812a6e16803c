"""The CLI starts without importing its commands, and lists them truthfully.

``--help`` is printed from :data:`agent.cli.lazy.COMMANDS`; each summary there must be
the first line of the command's own docstring (its ``--help``), or the two drift.  A
fresh interpreter proves what ``--help`` and ``patients --help`` import.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from agent.cli.lazy import COMMANDS, load_target


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_summary_is_the_first_line_of_the_commands_help(name: str) -> None:
    target = load_target(name)
    doc = (target.info.help if isinstance(target, typer.Typer) else target.__doc__) or ""
    assert doc.strip().splitlines()[0] == COMMANDS[name].summary


@pytest.mark.parametrize("argv", [["--help"], ["patients", "--help"], ["load", "--help"]])
def test_help_imports_no_agent_no_web_framework(argv: list[str]) -> None:
    probe = (
        "import sys; from agent.cli import app\n"
        "try:\n    app(" + repr(argv) + ", standalone_mode=False)\n"
        "except SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'langgraph', 'langchain_core', 'langsmith', 'fastapi', 'llama_cpp'})\n"
        "print('HEAVY', heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert "HEAVY []" in result.stdout, result.stdout[-2000:]


def test_listing_patients_imports_no_loader_no_validation_no_jwt() -> None:
    """``patients`` never loads, validates or signs: those imports cost it start-up."""
    probe = (
        "import sys; from agent.cli import app\n"
        "try:\n    app(['patients', '--help'], standalone_mode=False)\n"
        "except SystemExit:\n    pass\n"
        "import agent.record_source, agent.audit, fhir_client\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'fhir', 'jwt', 'cryptography'} or m.startswith('fhir_client.loading'))\n"
        "print('HEAVY', heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert "HEAVY []" in result.stdout, result.stdout[-2000:]
