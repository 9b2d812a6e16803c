"""``ehr-agent serve`` as a user runs it: a real process, a real port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from agent.cli import app
from tests.support.api_server import FIXTURES_DIR, store_copy


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_runs_the_dashboard_and_api(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    db = store_copy(tmp_path, tmp_path_factory.getbasetemp())
    port = _free_port()
    command = [sys.executable, "-m", "agent.cli", "serve", "--port", str(port), "--model", "none"]
    command += ["--db", str(db), "--checkpoint-db", str(tmp_path / "threads.sqlite")]
    env = {**os.environ, "EHR_AGENT_FIXTURES": str(FIXTURES_DIR)}
    env.pop("EHR_AGENT_FHIR_URL", None)
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                health = httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "ehr-agent serve did not start in 60 s"
                time.sleep(0.2)
        assert health.json()["model"] == "none"
        page = httpx.get(base + "/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert httpx.get(base + "/static/app.js").status_code == 200
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in stderr


def test_serve_with_a_bad_model_fails_before_listening() -> None:
    result = CliRunner().invoke(app, ["serve", "--model", "gpt-9", "--port", "1"])
    assert result.exit_code == 1
    assert "cannot use model 'gpt-9'" in result.stderr
