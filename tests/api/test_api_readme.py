"""The Python example in ``agent/api/README.md`` runs as written (docs that rot mislead)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api_server import FIXTURES_DIR, store_copy

REPO = Path(__file__).resolve().parents[2]


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
