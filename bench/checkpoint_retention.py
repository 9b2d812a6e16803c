"""Checkpoint storage of one thread, with and without the retention policy's trimming.

    python bench/checkpoint_retention.py

Why: every graph step writes a whole state (with its evidence) as a checkpoint, so an
unpruned thread grows by every step of every question (issue 11 measured 46 MB per
question with a 1 MB hostile field).  The API keeps only a thread's latest checkpoint
after each turn (``agent.checkpoints.trim_thread``).  This runs the same questions on a
real server (model none, the fixture store, a SQLite checkpoint file) twice, trimming off
then on, and prints checkpoint rows and bytes (checkpoints plus pending writes) in one run.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any
from unittest.mock import patch

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.threads import thread_key
from tests.support.api_server import hba1c_patient, running_server, store_copy

QUESTIONS = (
    "What are the HbA1c results?",
    "Any allergies?",
    "Which medications?",
    "and before that?",
)
SIZE_SQL = (
    "SELECT count(*), coalesce(sum(length(checkpoint) + length(metadata)), 0) "
    "FROM checkpoints WHERE thread_id = ?"
)
WRITES_SQL = "SELECT coalesce(sum(length(value)), 0) FROM writes WHERE thread_id = ?"


async def _no_trim(*_args: Any, **_kwargs: Any) -> None:
    return None


def measure(trim: bool) -> tuple[int, int]:
    """(checkpoint rows, bytes) of one thread after ``QUESTIONS``."""
    # The Assistant calls the trimming it imported; untrimmed replaces it there.
    with contextlib.ExitStack() as stack:
        if not trim:
            stack.enter_context(patch("agent.assistant.trim_thread", _no_trim))
        directory = Path(tempfile.mkdtemp())
        db, checkpoint = store_copy(directory, directory), directory / "threads.sqlite"
        with (
            running_server(db, checkpoint=str(checkpoint), audit_db=directory / "a.sqlite") as url,
            httpx.Client(base_url=url, timeout=120) as client,
        ):
            for question in QUESTIONS:
                response = client.post(
                    f"/patients/{hba1c_patient()}/ask",
                    json={"question": question, "thread_id": "bench"},
                )
                response.raise_for_status()
        key = thread_key("anonymous", "bench")
        with sqlite3.connect(checkpoint) as connection:
            rows, size = connection.execute(SIZE_SQL, (key,)).fetchone()
            [writes] = connection.execute(WRITES_SQL, (key,)).fetchone()
        return int(rows), int(size) + int(writes)


def main() -> None:
    results = {trim: measure(trim) for trim in (False, True)}
    for trim, (rows, size) in results.items():
        label = "trimmed  " if trim else "untrimmed"
        print(f"{label}: {rows:3d} checkpoint rows, {size / 1024:7.1f} KiB")
    ratio = results[False][1] / max(results[True][1], 1)
    print(f"{len(QUESTIONS)} questions on one thread; storage ratio untrimmed/trimmed: {ratio:.1f}")


if __name__ == "__main__":
    main()
