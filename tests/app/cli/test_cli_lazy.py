"""The CLI starts without importing its commands, and lists them truthfully.

``--help`` is printed from :data:`agent.cli.lazy.COMMANDS`; each summary there must be
the first line of the command's own docstring (its ``--help``), or the two drift.  A
fresh interpreter proves what ``--help`` and ``patients --help`` import.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from agent.audit import AuditLog
from agent.cli.lazy import COMMANDS, load_target
from fhir_client.embedded import EmbeddedStore


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


def test_listing_an_embedded_store_imports_no_orm_no_http_client(tmp_path: Path) -> None:
    """``patients`` on an existing store reads SQLite and writes its audit row with the
    standard library: SQLAlchemy, SQLModel, httpx and Starlette were half a second of
    its start-up (``bench/startup.py``). Nor does it build the search parameter
    registry or import the write path (validation, index extraction): it only reads;
    nor start asyncio, whose import, loop and worker thread cost it more than our code."""
    store = EmbeddedStore(tmp_path / "store.sqlite")
    store.put_resources([{"resourceType": "Patient", "id": "p-1", "name": [{"family": "Ng"}]}])
    store.close()
    probe = (
        "import sys; from agent.cli import app\n"
        "try:\n    app(['patients', '--json'], standalone_mode=False)\n"
        "except SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'sqlalchemy', 'sqlmodel', 'httpx', 'starlette', 'asyncio'} or m in "
        "{'fhir_client.embedded.registry', 'fhir_client.embedded.extract', "
        "'fhir_client.embedded.writing', 'fhir_client.embedded.validation'})\n"
        "print('HEAVY', heavy)"
    )
    env = {
        **os.environ,
        "EHR_AGENT_DB": str(tmp_path / "store.sqlite"),
        "EHR_AGENT_AUDIT_DB": str(tmp_path / "audit.sqlite"),
    }
    env.pop("EHR_AGENT_FHIR_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )
    assert '"id": "p-1"' in result.stdout and "HEAVY []" in result.stdout, result.stdout[-2000:]
    log = AuditLog(tmp_path / "audit.sqlite")
    [row] = log.accesses()
    assert (row.action, row.status, row.channel) == ("cli patients", 200, "cli")


MODEL_ONLY = (
    "llama_cpp",
    "openai",
    "jinja2",
    "agent.answering",
    "agent.models.grammar",
    "agent.models.json_output",
    "agent.models.llama_cpp_backend",
    "agent.models.openai_backend",
    "agent.models.scripted",
    "agent.models.structured_forms",
    "agent.models.templates",
    "agent.planner.model",
    "agent.planner.schema",
    "agent.reading.model_reading",
)
"""Modules only a model uses (backends, prompts it is given, the grammars and schemas its
output is held to, the scripted test model): the rule-based path must not pay for them."""


def test_ask_without_a_model_imports_no_model_code(tmp_path: Path) -> None:
    """``ask --model none`` answers from the rules; importing the model path cost it
    start-up (``bench/startup.py``'s +1.0 s target), so the seam where a model is used is
    where its modules are imported."""
    store = EmbeddedStore(tmp_path / "store.sqlite")
    store.put_resources(
        [
            {"resourceType": "Patient", "id": "p-1", "name": [{"family": "Ng"}]},
            {
                "resourceType": "AllergyIntolerance",
                "id": "a-1",
                "patient": {"reference": "Patient/p-1"},
                "code": {"text": "Peanut allergy"},
            },
        ]
    )
    store.close()
    probe = (
        "import sys; from agent.cli import app\n"
        "try:\n    app(['ask', 'Any allergies?', '-p', 'p-1', '--model', 'none', '--json'], "
        "standalone_mode=False)\n"
        "except SystemExit:\n    pass\n"
        f"model_only = {MODEL_ONLY!r}\n"
        "heavy = sorted(m for m in sys.modules if m in model_only or "
        "m.split('.')[0] in model_only)\n"
        "print('HEAVY', heavy)"
    )
    env = {
        **os.environ,
        "EHR_AGENT_DB": str(tmp_path / "store.sqlite"),
        "EHR_AGENT_AUDIT_DB": str(tmp_path / "audit.sqlite"),
        "XDG_DATA_HOME": str(tmp_path),
    }
    env.pop("EHR_AGENT_FHIR_URL", None)
    env.pop("EHR_AGENT_MODEL", None)
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )
    assert "AllergyIntolerance/a-1" in result.stdout, result.stdout[-2000:] + result.stderr[-2000:]
    assert "HEAVY []" in result.stdout, result.stdout[-2000:]
