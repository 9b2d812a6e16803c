"""The Python example in ``agent/api/README.md`` runs as written (docs that rot mislead)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.api_server import FIXTURES_DIR, store_copy

REPO = Path(__file__).resolve().parents[3]


def test_readme_python_example_runs(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    readme = (REPO / "agent" / "api" / "README.md").read_text()
    match = re.search(r"```python\n(.*?)```", readme, re.S)
    assert match, "the README lost its Python example"
    script = tmp_path / "example.py"
    script.write_text(match.group(1))
    env = {
        **os.environ,
        "EHR_AGENT_DB": str(store_copy(tmp_path, tmp_path_factory.getbasetemp())),
        "EHR_AGENT_FIXTURES": str(FIXTURES_DIR),
        "PYTHONPATH": str(REPO),
    }
    env.pop("EHR_AGENT_FHIR_URL", None)
    result = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "planning" in result.stdout and "done" in result.stdout


def _readme_command_lines() -> list[str]:
    """Every ``ehr-agent ...`` command the README shows, in code blocks or inline code."""
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    lines = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    inline = re.findall(r"`(ehr-agent [^`]+)`", readme)
    return [line for line in [*lines, *inline] if line.startswith("ehr-agent ")]


def _help(*command: str) -> str:
    from typer.testing import CliRunner

    from agent.cli import app

    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, (command, result.output)
    return result.output


def test_every_readme_command_and_flag_exists() -> None:
    """Each ``ehr-agent`` line of the README names a real command, and every ``--flag`` it
    shows is one that command takes (a renamed flag would otherwise rot in the docs)."""
    lines = _readme_command_lines()
    assert len(lines) >= 12, lines
    for line in lines:
        words = line.removeprefix("ehr-agent ").replace("[", " ").replace("]", " ").split()
        command = [words[0], *([words[1]] if words[0] == "model" else [])]
        text = _help(*command)
        for flag in (w for w in words if w.startswith("--")):
            assert flag.split("=")[0] in text, (line, flag)


def test_the_settings_table_holds_for_every_command() -> None:
    """README: every command that reads a record takes the data source options, every
    command that answers takes ``--model``, and the doors that keep threads take
    ``--checkpoint-db``."""
    readme = (REPO / "README.md").read_text()
    for flag in ("--db PATH", "--fhir-url URL", "--fhir-token", "--model SPEC"):
        assert f"`{flag}`" in readme
    source = ("--db", "--fhir-url", "--fhir-token")
    for command in ("load", "patients", "ask", "summary", "chat", "serve", "replay", "audit"):
        text = _help(command)
        assert all(flag in text for flag in source), command
        if command in ("ask", "summary", "chat", "serve", "replay"):
            assert "--model" in text, command
        if command in ("ask", "chat", "serve", "replay"):
            assert "--checkpoint-db" in text, command
