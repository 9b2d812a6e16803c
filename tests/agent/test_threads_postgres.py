"""Thread ownership, turn leases and checkpoint retention on a real PostgreSQL.

The same registry as on SQLite (:mod:`agent.threads`), over a throwaway Debian PostgreSQL
cluster (the ``postgres_cluster`` fixture, tests/conftest.py), behind a real server whose
checkpointer is LangGraph's ``AsyncPostgresSaver``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from agent.checkpoints import enforce_retention, open_checkpointer
from agent.threads import ThreadBusy, ThreadConflict, open_thread_registry, thread_key
from tests.support.api_server import fixture_patients, running_server, store_copy
from tests.support.hapi_server.postgres import PostgresCluster

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def database(postgres_cluster: PostgresCluster) -> str:
    pytest.importorskip("langgraph.checkpoint.postgres.aio")
    postgres_cluster.create_database("threads")
    return postgres_cluster.url("threads")


async def test_claims_race_to_one_owner_and_leases_order_turns(database: str) -> None:
    async with open_thread_registry(database) as one, open_thread_registry(database) as two:
        patients = [f"p{i}" for i in range(8)]
        results = await asyncio.gather(
            *(
                (one if i % 2 else two).claim("anonymous", "pg-race", patient)
                for i, patient in enumerate(patients)
            ),
            return_exceptions=True,
        )
        winners = [r for r in results if not isinstance(r, BaseException)]
        losers = [r for r in results if isinstance(r, ThreadConflict)]
        assert len(winners) == 1 and len(losers) == len(patients) - 1
        assert all(p not in str(e) for e in losers for p in patients)

        claim = winners[0]
        async with one.turn(claim):
            with pytest.raises(ThreadBusy):
                async with two.turn(claim, wait_seconds=0.2):
                    pass
        async with two.turn(claim, wait_seconds=1):
            pass


def test_served_threads_on_postgres_keep_one_checkpoint_and_expire(
    database: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    db = store_copy(tmp_path, tmp_path_factory.getbasetemp())
    patient = sorted(fixture_patients())[0]
    with (
        running_server(db, checkpoint=database, audit_db=tmp_path / "a.sqlite") as url,
        httpx.Client(base_url=url, timeout=120) as client,
    ):
        for question in ("Any allergies?", "Which medications?"):
            response = client.post(
                f"/patients/{patient}/ask", json={"question": question, "thread_id": "pg-thread"}
            )
            assert response.status_code == 200, response.text
        other = client.post(
            f"/patients/{sorted(fixture_patients())[1]}/ask",
            json={"question": "Any allergies?", "thread_id": "pg-thread"},
        )
        assert other.status_code == 409 and patient not in other.text

    key = thread_key("anonymous", "pg-thread")

    async def check() -> None:
        async with (
            open_checkpointer(database) as saver,
            open_thread_registry(database) as threads,
        ):
            rows = await threads.database.fetchall(
                "SELECT count(*) FROM checkpoints WHERE thread_id = ?", (key,)
            )
            assert rows[0][0] == 1
            await threads.database.execute(
                "UPDATE ehr_agent_thread SET last_used_at = ? WHERE thread_key = ?",
                (time.time() - 365 * 86400, key),
            )
            report = await enforce_retention(saver, threads)
            assert report.threads_deleted == 1
            rows = await threads.database.fetchall(
                "SELECT count(*) FROM checkpoints WHERE thread_id = ?", (key,)
            )
            assert rows[0][0] == 0

    asyncio.run(check())
