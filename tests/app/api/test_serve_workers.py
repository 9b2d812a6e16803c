"""Issue 13 item 4, "serve --workers N correct across processes": ownership and turn order
held in the database, not in one process's memory.

``ehr-agent serve --workers 2`` as a real subprocess (two uvicorn worker processes on one
socket, model none, one SQLite checkpoint file).  Concurrent turns on one thread land on
both workers; every turn must be kept (a lost update would drop one from the thread's
``turns``), and racing first turns for two patients must still give one 200 and one 409
that names neither patient.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.checkpoints import open_checkpointer
from agent.threads import thread_key
from tests.support.api_server import FIXTURES_DIR, fixture_patients, store_copy

pytestmark = pytest.mark.slow

WORKERS = 2
CONCURRENT_TURNS = 6


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, int]]:
    directory = tmp_path_factory.mktemp("workers")
    db = store_copy(directory, tmp_path_factory.getbasetemp())
    checkpoint = directory / "threads.sqlite"
    port = _free_port()
    env = {
        **os.environ,
        "EHR_AGENT_DB": str(db),
        "EHR_AGENT_FIXTURES": str(FIXTURES_DIR),
        "EHR_AGENT_AUDIT_DB": str(directory / "audit.sqlite"),
        "XDG_DATA_HOME": str(directory / "xdg"),
    }
    env.pop("EHR_AGENT_FHIR_URL", None)
    command = [
        sys.executable,
        "-m",
        "agent.cli",
        "serve",
        "--workers",
        str(WORKERS),
        "--port",
        str(port),
        "--model",
        "none",
        "--checkpoint-db",
        str(checkpoint),
    ]
    log = (directory / "serve.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base_url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((directory / "serve.log").read_text())
            time.sleep(0.3)
        yield base_url, checkpoint, process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_two_worker_processes_serve(served: tuple[str, Path, int]) -> None:
    deadline = time.monotonic() + 30
    while len(_children(served[2])) < WORKERS and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(_children(served[2])) >= WORKERS


async def test_concurrent_turns_on_one_thread_are_all_kept_across_workers(
    served: tuple[str, Path, int],
) -> None:
    base_url, checkpoint, _ = served
    patient = sorted(fixture_patients())[0]
    questions = ["Any allergies?", "Which medications?", "Latest vital signs?"] * 2
    limits = httpx.Limits(max_connections=CONCURRENT_TURNS)  # separate connections
    async with httpx.AsyncClient(base_url=base_url, timeout=300, limits=limits) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    f"/patients/{patient}/ask",
                    json={"question": q, "thread_id": "shared-across-workers"},
                )
                for q in questions[:CONCURRENT_TURNS]
            )
        )
    assert [r.status_code for r in responses] == [200] * CONCURRENT_TURNS, [
        r.text for r in responses if r.status_code != 200
    ]
    key = thread_key("anonymous", "shared-across-workers")
    async with open_checkpointer(str(checkpoint)) as saver:
        saved = await saver.aget_tuple({"configurable": {"thread_id": key, "checkpoint_ns": ""}})
    assert saved is not None
    turns = saved.checkpoint["channel_values"]["turns"]
    assert len(turns) == CONCURRENT_TURNS  # no turn overwrote another


async def test_racing_first_turns_across_workers_reveal_nothing(
    served: tuple[str, Path, int],
) -> None:
    first, second = sorted(fixture_patients())[:2]
    limits = httpx.Limits(max_connections=4)
    async with httpx.AsyncClient(base_url=served[0], timeout=300, limits=limits) as client:
        for attempt in range(5):
            responses = await asyncio.gather(
                *(
                    client.post(
                        f"/patients/{patient}/ask",
                        json={"question": "Any allergies?", "thread_id": f"w-race-{attempt}"},
                    )
                    for patient in (first, second)
                )
            )
            assert sorted(r.status_code for r in responses) == [200, 409]
            loser = next(r for r in responses if r.status_code == 409)
            assert first not in loser.text and second not in loser.text


def test_workers_refuse_per_process_memory_databases() -> None:
    from typer.testing import CliRunner

    from agent.cli import app

    result = CliRunner().invoke(
        app, ["serve", "--workers", "2", "--checkpoint-db", ":memory:", "--model", "none"]
    )
    assert result.exit_code == 2
    assert "--workers needs databases the workers share" in result.stderr
