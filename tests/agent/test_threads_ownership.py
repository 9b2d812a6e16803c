"""Finding "two requests with the same new thread_id race; the loser's error names the other
patient; thread ids are global": threads belong to (caller, patient), claimed in the
database, scoped per caller, turns ordered by a lease row, checkpoints kept bounded.

Against a real server (uvicorn, model none) and the real SQLite checkpointer; before the
fix the race below revealed the other patient in 15 of 15 tries here.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.api.security import TokenRegistry, hash_token
from agent.checkpoints import enforce_retention, open_checkpointer
from agent.threads import ThreadBusy, ThreadConflict, open_thread_registry, thread_key
from tests.support.api_server import fixture_patients, running_server, store_copy

TOKEN_A = "threads-token-A-5e4d3c2b1a0f9e8d7c6b5a49"
TOKEN_B = "threads-token-B-0a9b8c7d6e5f4a3b2c1d0e9f"
KEY = bytes(range(50, 82))
RACES = 15


def _two_patients() -> tuple[str, str]:
    first, second = sorted(fixture_patients())[:2]
    return first, second


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    directory = tmp_path_factory.mktemp("threads")
    db = store_copy(directory, tmp_path_factory.getbasetemp())
    entries = [
        {"name": "clinician-a", "hmac": hash_token(TOKEN_A, KEY), "patients": "*"},
        {"name": "clinician-b", "hmac": hash_token(TOKEN_B, KEY), "patients": "*"},
    ]
    (directory / "tokens.json").write_text(json.dumps({"tokens": entries}))
    tokens = TokenRegistry.load(directory / "tokens.json", key=KEY)
    checkpoint = directory / "threads.sqlite"
    with running_server(
        db, tokens=tokens, checkpoint=str(checkpoint), audit_db=directory / "a.sqlite"
    ) as url:
        yield url, checkpoint


async def test_racing_first_turns_never_reveal_the_other_patient(
    served: tuple[str, Path],
) -> None:
    first, second = _two_patients()
    async with httpx.AsyncClient(base_url=served[0], timeout=120) as client:
        for attempt in range(RACES):
            thread = f"race-{attempt}"
            responses = await asyncio.gather(
                client.post(
                    f"/patients/{first}/ask",
                    json={"question": "Any allergies?", "thread_id": thread},
                    headers={"Authorization": f"Bearer {TOKEN_A}"},
                ),
                client.post(
                    f"/patients/{second}/ask",
                    json={"question": "Any allergies?", "thread_id": thread},
                    headers={"Authorization": f"Bearer {TOKEN_A}"},
                ),
            )
            statuses = sorted(r.status_code for r in responses)
            assert statuses == [200, 409], [r.text for r in responses]
            loser = next(r for r in responses if r.status_code == 409)
            assert loser.json()["kind"] == "thread_conflict"
            assert first not in loser.text and second not in loser.text
            winner = next(r for r in responses if r.status_code == 200)
            assert winner.json()["thread_id"] == thread  # the caller's own id, not the key


async def test_thread_ids_are_scoped_per_caller_so_they_cannot_be_probed_or_squatted(
    served: tuple[str, Path],
) -> None:
    base_url, checkpoint = served
    first, second = _two_patients()
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        # B "squats" the id A is about to use, on another patient: A is not blocked.
        squat = await client.post(
            f"/patients/{second}/ask",
            json={"question": "Any allergies?", "thread_id": "visit-42"},
            headers={"Authorization": f"Bearer {TOKEN_B}"},
        )
        mine = await client.post(
            f"/patients/{first}/ask",
            json={"question": "Any allergies?", "thread_id": "visit-42"},
            headers={"Authorization": f"Bearer {TOKEN_A}"},
        )
        # B "probes" A's thread on A's patient: B gets a conversation of its own.
        probe = await client.post(
            f"/patients/{first}/ask",
            json={"question": "and before that?", "thread_id": "visit-42"},
            headers={"Authorization": f"Bearer {TOKEN_B}"},
        )
    assert (squat.status_code, mine.status_code) == (200, 200), (squat.text, mine.text)
    assert probe.status_code == 409  # B's own visit-42 is about the second patient
    assert first not in probe.text and second not in probe.text
    with sqlite3.connect(checkpoint) as db:
        rows = dict(
            db.execute(
                "SELECT caller, thread_key FROM ehr_agent_thread WHERE public_id = 'visit-42'"
            ).fetchall()
        )
        stored = {r[0] for r in db.execute("SELECT DISTINCT thread_id FROM checkpoints")}
    assert rows == {
        "clinician-a": thread_key("clinician-a", "visit-42"),
        "clinician-b": thread_key("clinician-b", "visit-42"),
    }
    assert "visit-42" not in stored and set(rows.values()) <= stored


async def test_checkpoint_retention_trims_each_thread_and_drops_old_ones(
    served: tuple[str, Path],
) -> None:
    base_url, checkpoint = served
    first, _ = _two_patients()
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        for question in ("Any allergies?", "Which medications?", "and before that?"):
            response = await client.post(
                f"/patients/{first}/ask",
                json={"question": question, "thread_id": "kept-short"},
                headers={"Authorization": f"Bearer {TOKEN_A}"},
            )
            assert response.status_code == 200, response.text
    key = thread_key("clinician-a", "kept-short")
    with sqlite3.connect(checkpoint) as db:
        [(count,)] = db.execute("SELECT count(*) FROM checkpoints WHERE thread_id = ?", (key,))
    assert count == 1  # only the latest checkpoint survives each turn

    # Older checkpoints left by an earlier version are trimmed by the periodic pass.
    with sqlite3.connect(checkpoint) as db:
        db.execute(
            "INSERT INTO checkpoints SELECT thread_id, checkpoint_ns, '0-older', NULL, type, "
            "checkpoint, metadata FROM checkpoints WHERE thread_id = ?",
            (key,),
        )
    async with (
        open_checkpointer(str(checkpoint)) as saver,
        open_thread_registry(str(checkpoint)) as threads,
    ):
        await enforce_retention(saver, threads)
    with sqlite3.connect(checkpoint) as db:
        [(count,)] = db.execute("SELECT count(*) FROM checkpoints WHERE thread_id = ?", (key,))
        [(latest,)] = db.execute(
            "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ?", (key,)
        )
    assert count == 1 and latest != "0-older"

    # A thread unused for longer than the age bound goes, checkpoints and all.
    with sqlite3.connect(checkpoint) as db:
        db.execute(
            "UPDATE ehr_agent_thread SET last_used_at = ? WHERE thread_key = ?",
            (time.time() - 10 * 365 * 86400, key),
        )
    async with (
        open_checkpointer(str(checkpoint)) as saver,
        open_thread_registry(str(checkpoint)) as threads,
    ):
        report = await enforce_retention(saver, threads)
        assert report.threads_deleted >= 1
        assert key not in await threads.keys()
        # The count bound: keep only the newest thread.
        await enforce_retention(saver, threads, max_threads=1)
        assert len(await threads.keys()) == 1
    with sqlite3.connect(checkpoint) as db:
        [(left,)] = db.execute("SELECT count(*) FROM checkpoints WHERE thread_id = ?", (key,))
    assert left == 0


async def test_turns_of_one_thread_wait_for_each_other_across_registries(tmp_path: Path) -> None:
    """Two registries on one file stand for two server processes."""
    path = str(tmp_path / "threads.sqlite")
    async with open_thread_registry(path) as one, open_thread_registry(path) as two:
        claim = await one.claim("clinician-a", "t1", "p1")
        assert (await two.claim("clinician-a", "t1", "p1")).key == claim.key
        with pytest.raises(ThreadConflict) as conflict:
            await two.claim("clinician-a", "t1", "p2")
        assert "p1" not in str(conflict.value) and "p2" not in str(conflict.value)

        order: list[str] = []

        async def second_turn() -> None:
            async with two.turn(claim, wait_seconds=10):
                order.append("second")

        async with one.turn(claim):
            order.append("first")
            waiting = asyncio.create_task(second_turn())
            await asyncio.sleep(0.3)
            assert order == ["first"]  # the second turn is still waiting for the lease
            with pytest.raises(ThreadBusy):
                async with two.turn(claim, wait_seconds=0.1):
                    pass
        await asyncio.wait_for(waiting, 10)
        assert order == ["first", "second"]

        # A holder that died mid-turn: its lease runs out and the thread is usable again.
        with sqlite3.connect(path) as db:
            db.execute(
                "UPDATE ehr_agent_thread SET lease_holder = 'dead', lease_until = ?",
                (time.time() - 1,),
            )
        async with two.turn(claim, wait_seconds=1):
            pass
