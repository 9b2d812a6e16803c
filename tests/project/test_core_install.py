"""``pip install ehr-agent`` without extras: the FHIR layer and the CLI, truly.

A fresh venv (packages from pip's cache or the index), a copy of the repository installed
without extras, and the commands the README promises for it: ``--help``, ``load``,
``patients``, ``serve``'s read-only ``/fhir``; ``ask`` says which extra it needs.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "synthea_fixtures" / "fhir"
INSTALL_TIMEOUT_SECONDS = 900

pytestmark = pytest.mark.slow


def _smallest_bundle() -> Path:
    bundles = [p for p in FIXTURES.glob("*.json") if "Information" not in p.name]
    return min(bundles, key=lambda p: p.stat().st_size)


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("core-install")
    source = root / "src"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", ".scratch", "*.egg-info", "build", "__pycache__", "synthea_fixtures"
        ),
    )
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(source)],
        check=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
    )
    yield venv


def _env(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "EHR_AGENT_DB": str(tmp / "store.sqlite"),
        "EHR_AGENT_AUDIT_DB": str(tmp / "audit.sqlite"),
        "EHR_AGENT_FIXTURES": str(tmp / "no-fixtures"),
        "EHR_AGENT_MODEL": "none",
        "XDG_DATA_HOME": str(tmp / "data"),
    }


def _cli(venv: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "ehr-agent"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=env["XDG_DATA_HOME"],
    )


def test_the_core_install_has_no_agent(core_venv: Path) -> None:
    probe = subprocess.run(
        [str(core_venv / "bin" / "python"), "-c", "import langgraph"], capture_output=True
    )
    assert probe.returncode != 0


def test_help_load_patients_and_ask_on_the_core_install(core_venv: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)
    Path(env["XDG_DATA_HOME"]).mkdir()
    assert _cli(core_venv, "--help", env=env).returncode == 0
    loaded = _cli(core_venv, "load", str(_smallest_bundle()), env=env)
    assert loaded.returncode == 0, loaded.stderr
    listed = _cli(core_venv, "patients", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    [patient] = json.loads(listed.stdout)
    assert patient["resource_total"] > 0
    asked = _cli(core_venv, "ask", "Any allergies?", "-p", patient["id"], env=env)
    assert asked.returncode == 1
    assert "pip install 'ehr-agent[agent]'" in asked.stderr
    assert "Traceback" not in asked.stderr
    # Every door that runs the agent says the same, none with a traceback (replay did).
    for door in (["chat", "-p", patient["id"]], ["replay", "--all"]):
        refused = _cli(core_venv, *door, env=env)
        assert refused.returncode == 1, door
        assert "pip install 'ehr-agent[agent]'" in refused.stderr, door
        assert "Traceback" not in refused.stderr and "Error" in refused.stderr, door


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_gives_the_fhir_facade_on_the_core_install(core_venv: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)
    Path(env["XDG_DATA_HOME"]).mkdir()
    assert _cli(core_venv, "load", str(_smallest_bundle()), env=env).returncode == 0
    port = _free_port()
    server = subprocess.Popen(
        [str(core_venv / "bin" / "ehr-agent"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=env["XDG_DATA_HOME"],
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                found = httpx.get(f"http://127.0.0.1:{port}/fhir/Patient", timeout=5)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert found.status_code == 200
        assert found.json()["resourceType"] == "Bundle" and found.json()["entry"]
        # The dashboard's page would fail on every call without the agent: it says why.
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and "pip install 'ehr-agent[agent]'" in page.text
        assert "/static/app.js" not in page.text
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert "pip install 'ehr-agent[agent]'" in stderr
