"""Threads in a real PostgreSQL (Debian's), on every door, surviving a database restart.

The cluster is private to the test session (a temp dir, a free port on 127.0.0.1).
Checked: ``ask --thread`` with a ``postgresql://`` checkpoint keeps the thread in
Postgres (and writes no stray SQLite file), ``chat`` continues that thread, the API's
follow-up survives a Postgres restart mid-run (the pool reconnects) while ``/health``
reports the outage, and ``replay`` accepts the URL.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from agent.cli import app
from tests.support.api_server import FIXTURES_DIR, hba1c_patient, running_server, store_copy
from tests.support.hapi_server.postgres import PostgresCluster

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def checkpoint_db(postgres_cluster: PostgresCluster) -> str:
    """This module's database in the session's cluster (tests/conftest.py)."""
    postgres_cluster.create_database("checkpoints")
    return postgres_cluster.url("checkpoints")


@pytest.fixture
def store(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return store_copy(tmp_path, tmp_path_factory.getbasetemp())


def _env(store: Path, tmp_path: Path) -> dict[str, str]:
    return {
        "EHR_AGENT_DB": str(store),
        "EHR_AGENT_FIXTURES": str(FIXTURES_DIR),
        "EHR_AGENT_AUDIT_DB": str(tmp_path / "audit.sqlite"),
        "EHR_AGENT_MODEL": "none",
    }


def test_ask_and_chat_keep_a_thread_in_postgres(
    checkpoint_db: str, store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = set(os.listdir(tmp_path))
    runner = CliRunner()
    env = _env(store, tmp_path)
    patient = hba1c_patient()
    first = runner.invoke(
        app,
        [
            "ask",
            "Show the HbA1c trend",
            "-p",
            patient,
            "--json",
            "--thread",
            "pg-1",
            "--checkpoint-db",
            checkpoint_db,
        ],
        env=env,
    )
    assert first.exit_code == 0, first.output
    follow = runner.invoke(
        app,
        [
            "ask",
            "what was the first of those?",
            "-p",
            patient,
            "--json",
            "--thread",
            "pg-1",
            "--checkpoint-db",
            checkpoint_db,
        ],
        env=env,
    )
    assert follow.exit_code == 0, follow.output
    output = json.loads(follow.stdout)
    assert output["steps"] == [] and output["thread_id"] == "pg-1"  # from the thread
    # The URL was never taken for a file name.
    assert set(os.listdir(tmp_path)) - before <= {"audit.sqlite"}
    chat = runner.invoke(
        app,
        [
            "chat",
            "-p",
            patient,
            "--thread",
            "pg-1",
            "--checkpoint-db",
            checkpoint_db,
            "--no-history",
        ],
        input="what was the first of those?\n/quit\n",
        env=env,
    )
    assert chat.exit_code == 0, chat.output
    # A follow-up only the thread can resolve (no new lookups), answered as `ask` did.
    assert output["answer"].splitlines()[0] in chat.output, chat.output


def test_the_api_survives_a_postgres_restart_and_health_tells(
    postgres_cluster: PostgresCluster, checkpoint_db: str, store: Path
) -> None:
    patient = hba1c_patient()
    with running_server(store, checkpoint=checkpoint_db) as base:
        first = httpx.post(
            f"{base}/patients/{patient}/ask", json={"question": "Show the HbA1c trend"}, timeout=120
        )
        assert first.status_code == 200, first.text
        thread = first.json()["thread_id"]
        postgres_cluster.stop()
        try:
            down = httpx.get(f"{base}/health", timeout=60)
            assert down.status_code == 503 and down.json()["status"] == "degraded"
        finally:
            postgres_cluster.start()
        assert httpx.get(f"{base}/health", timeout=60).json()["status"] == "ok"
        follow = httpx.post(
            f"{base}/patients/{patient}/ask",
            json={"question": "what was the first of those?", "thread_id": thread},
            timeout=120,
        )
        assert follow.status_code == 200, follow.text
        assert follow.json()["steps"] == []  # the thread came back from Postgres


def test_replay_takes_a_postgres_url(checkpoint_db: str, store: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "replay",
            hba1c_patient(),
            "--report",
            str(tmp_path / "r.json"),
            "--checkpoint-db",
            checkpoint_db,
        ],
        env=_env(store, tmp_path),
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "r.json").read_text())["overall"]["questions"] > 0
