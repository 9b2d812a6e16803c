"""Many processes on one embedded store: writers wait and report, nothing crashes,
no patient data reaches an error (issue 11, "two processes on one store")."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from bench.store_concurrency import BAD_SIGNS, NDJSON, REPO, run_concurrency
from fhir_client.embedded import EmbeddedStore, StoreBusy
from fhir_client.embedded import writing as store_writing
from fhir_client.limits import STORE_BUSY_TIMEOUT_SECONDS

SECRET_NAME = "Zyxwvut-Secret-Name"


def _patient(pid: str) -> dict[str, object]:
    return {"resourceType": "Patient", "id": pid, "name": [{"family": SECRET_NAME}]}


@contextmanager
def write_lock_held_elsewhere(db: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holds the store's write lock for ``seconds``."""
    script = (
        "import sqlite3, sys, time\n"
        "con = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "con.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True)\n"
        "time.sleep(float(sys.argv[2]))\n"
        "con.rollback()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.wait(timeout=seconds + 30)


def test_a_writer_waits_for_another_process_and_then_writes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "store.sqlite"
    EmbeddedStore(db).close()  # the tables exist before the other process locks
    store = EmbeddedStore(db)
    try:
        # Longer than SQLite's busy handler waits in one go (STORE_BUSY_TIMEOUT_SECONDS).
        with write_lock_held_elsewhere(db, 7):
            started = time.monotonic()
            store.put_resources([_patient("a")])
            waited = time.monotonic() - started
        assert waited > 5  # it waited for the lock instead of failing at once
        assert "being written by another process; waiting" in caplog.text  # and said so
        assert store.counts_by_type() == {"Patient": 1}
    finally:
        store.close()


def test_a_writer_that_waits_too_long_says_so_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_writing, "STORE_WRITE_WAIT_SECONDS", 1.0)
    db = tmp_path / "store.sqlite"
    EmbeddedStore(db).close()
    store = EmbeddedStore(db)
    try:
        with write_lock_held_elsewhere(db, 8), pytest.raises(StoreBusy) as raised:
            store.put_resources([_patient("a")])
        message = str(raised.value)
        assert "another process" in message and "run the same command again" in message
        assert SECRET_NAME not in message and raised.value.__cause__ is None
        assert store.counts_by_type() == {}
    finally:
        store.close()


def test_closing_never_fails_while_another_process_writes(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    store = EmbeddedStore(db)
    store.put_resources([_patient("a")])  # a writer runs PRAGMA optimize at close
    with write_lock_held_elsewhere(db, 4):
        started = time.monotonic()
        store.close()
        assert time.monotonic() - started < 2  # and does not queue for the lock


def test_a_failing_statement_never_quotes_resource_json(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store.sqlite")
    try:
        with pytest.raises(DBAPIError) as raised, store._engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO resource (rid, res_type) VALUES (?, ?)", (1, SECRET_NAME)
            )
        assert SECRET_NAME not in str(raised.value)
    finally:
        store.close()


def test_two_loads_at_once_both_finish_every_file(tmp_path: Path) -> None:
    """The issue's failure: a second load crashed with "database is locked"."""
    env = {**os.environ, "EHR_AGENT_DB": str(tmp_path / "store.sqlite"), "PYTHONPATH": str(REPO)}
    env.pop("EHR_AGENT_FHIR_URL", None)
    outputs: list[subprocess.CompletedProcess[str]] = []

    def load() -> None:
        command = [sys.executable, "-m", "agent.cli", "load", str(NDJSON)]
        outputs.append(subprocess.run(command, env=env, capture_output=True, text=True))

    loads = [threading.Thread(target=load) for _ in range(2)]
    for thread in loads:
        thread.start()
    for thread in loads:
        thread.join()

    for done in outputs:
        assert done.returncode == 0, done.stderr[-2000:]
        assert not [sign for sign in BAD_SIGNS if sign in done.stdout + done.stderr]
        assert f"Files: {len(list(NDJSON.glob('*.ndjson')))} loaded, 0 failed" in done.stdout
    lines = Counter(
        line.split('"resourceType":"', 1)[1].split('"', 1)[0]
        for path in NDJSON.glob("*.ndjson")
        for line in path.read_text().splitlines()
        if line.strip()
    )
    store = EmbeddedStore(tmp_path / "store.sqlite")
    try:
        assert store.counts_by_type() == dict(sorted(lines.items()))
    finally:
        store.close()


@pytest.mark.slow
def test_two_cli_processes_and_serve_for_a_minute_with_zero_errors(tmp_path: Path) -> None:
    result = run_concurrency(float(os.environ.get("EHR_CONCURRENCY_SECONDS", "60")), tmp_path)
    assert result.loader.runs >= 1 and result.mixed.runs >= 2 and result.http.runs >= 3
    assert result.errors == 0, [*result.loader.failures, *result.mixed.failures][:3]


def test_a_store_locked_while_opening_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    """Opening waits (bounded) for another process; past the bound the CLI says what to do."""
    db = tmp_path / "store.sqlite"
    # A file still in rollback mode, locked outright by another process: opening it must
    # switch it to WAL, which cannot happen until that process lets go.
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE other (a)")
    holder_script = (
        "import sqlite3, sys, time\n"
        "con = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "con.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        "time.sleep(float(sys.argv[2]))\n"
        "con.rollback()\n"
    )
    seconds = STORE_BUSY_TIMEOUT_SECONDS + 4
    holder = subprocess.Popen(
        [sys.executable, "-c", holder_script, str(db), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        env = {**os.environ, "EHR_AGENT_DB": str(db), "PYTHONPATH": str(REPO)}
        env.pop("EHR_AGENT_FHIR_URL", None)
        done = subprocess.run(
            [sys.executable, "-m", "agent.cli", "load", str(NDJSON)],
            env=env,
            capture_output=True,
            text=True,
        )
    finally:
        holder.wait(timeout=seconds + 30)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "╭" not in done.stderr
    assert "kept the store locked" in done.stdout + done.stderr
