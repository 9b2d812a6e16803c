"""Tests that drive ``ehr-agent`` through a real pseudo-terminal (pexpect), as a user types.

Without pexpect (a dev dependency) the tests skip.  The terminal is ``TERM=dumb`` with a
fixed 200x50 size so prompt_toolkit prints plain text and tables do not fold; the input
history goes under the test's temporary directory, never to the user's home, and the
environment's FHIR server, token and model settings are removed so the command reads the
committed fixtures with the tool-only model unless the test says otherwise.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
COLUMNS, LINES = 200, 50
UNSET = ("EHR_AGENT_FHIR_URL", "EHR_AGENT_FHIR_TOKEN", "EHR_AGENT_MODEL")


@pytest.fixture
def pexpect() -> ModuleType:
    """The pexpect module, or skip without it."""
    return pytest.importorskip("pexpect")


@pytest.fixture
def cli_in_pty(
    pexpect: ModuleType, tmp_path: Path, fixtures_dir: Path
) -> Iterator[Callable[..., Any]]:
    """Start ``python -m agent.cli ARGS`` in a pseudo-terminal; every child is closed after."""
    children: list[Any] = []
    env = {
        **os.environ,
        "TERM": "dumb",
        "NO_COLOR": "1",
        "PROMPT_TOOLKIT_NO_CPR": "1",
        "COLUMNS": str(COLUMNS),
        "LINES": str(LINES),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "EHR_AGENT_FIXTURES": str(fixtures_dir),
    }
    for name in UNSET:
        env.pop(name, None)

    def spawn(*args: str, timeout: float) -> Any:
        child = pexpect.spawn(
            sys.executable,
            ["-m", "agent.cli", *args],
            cwd=str(REPO),
            env=env,
            encoding="utf-8",
            dimensions=(LINES, COLUMNS),
            timeout=timeout,
        )
        children.append(child)
        return child

    yield spawn
    for child in children:
        child.close(force=True)
