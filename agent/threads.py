"""Who owns a conversation thread and whose turn it is: rows in the database, not memory.

Why the database: ``serve --workers N`` runs N processes, and a CLI may share the thread
store with a server, so a lock in one process's memory orders nothing.  One row per
thread in the checkpointer's own database (the SQLite file, or PostgreSQL) holds:

- **ownership**: the (caller, patient) the thread belongs to, claimed atomically with
  ``INSERT ... ON CONFLICT DO NOTHING`` then read back, so of two racing first turns
  exactly one wins and the loser learns only "another patient", never which;
- **the turn lease**: a holder id and an expiry, taken with one conditional ``UPDATE``
  (``lease_holder IS NULL OR lease_until < now``) and renewed while the turn runs, so two
  turns of one thread never interleave on its checkpoint in any process, and a crashed
  process's lease simply runs out (:data:`fhir_client.limits.TURN_LEASE_SECONDS`).

Thread ids are scoped per caller: the checkpointer sees :func:`thread_key`, a hash of
(caller, the id the caller chose), so one caller's ids can neither reach another's
conversation (probing) nor block it (squatting).  The caller only ever sees its own id.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agent.refusals import ThreadBusy, ThreadConflict
from fhir_client.limits import (
    CHECKPOINT_POOL_SIZE,
    CHECKPOINT_POOL_TIMEOUT_SECONDS,
    MAX_THREADS_KEPT,
    THREAD_MAX_AGE_SECONDS,
    TURN_LEASE_SECONDS,
    TURN_WAIT_SECONDS,
)

__all__ = [
    "ThreadBusy",
    "ThreadClaim",
    "ThreadConflict",
    "ThreadRegistry",
    "is_postgres_url",
    "open_thread_registry",
    "thread_key",
]

logger = logging.getLogger(__name__)

TABLE = "ehr_agent_thread"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    thread_key TEXT PRIMARY KEY,
    caller TEXT NOT NULL,
    public_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    last_used_at DOUBLE PRECISION NOT NULL,
    lease_holder TEXT,
    lease_until DOUBLE PRECISION NOT NULL DEFAULT 0
)
"""
_SQLITE_BUSY_SECONDS = 30.0
_POLL_FIRST_SECONDS = 0.02
_POLL_MAX_SECONDS = 0.25


@dataclass(frozen=True)
class ThreadClaim:
    """A thread the caller may use: ``key`` is what the checkpointer stores it under."""

    key: str
    public_id: str
    caller: str
    patient_id: str


def thread_key(caller: str, public_id: str) -> str:
    """The checkpointer's id for ``public_id`` as chosen by ``caller`` (opaque, fixed length)."""
    digest = hashlib.sha256(f"{caller}\x00{public_id}".encode()).hexdigest()
    return f"th-{digest[:40]}"


def is_postgres_url(target: str) -> bool:
    return target.startswith(("postgres://", "postgresql://"))


class _Database(Protocol):
    """The few statements the registry needs, on SQLite or PostgreSQL (``?`` placeholders)."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    async def close(self) -> None: ...


class _SqliteDatabase:
    """A SQLite file (a short connection per statement, in a worker thread) or ``:memory:``.

    A connection per statement keeps no handle open across ``await`` points, and
    ``timeout`` makes a writer wait for another process's write instead of failing.
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self._memory: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        if target == ":memory:":
            self._memory = sqlite3.connect(":memory:", check_same_thread=False)
            self._memory.isolation_level = None
        else:
            Path(target).parent.mkdir(parents=True, exist_ok=True)

    def _run(self, sql: str, params: Sequence[Any], fetch: bool) -> Any:
        if self._memory is not None:
            with self._lock:
                cursor = self._memory.execute(sql, tuple(params))
                return cursor.fetchall() if fetch else cursor.rowcount
        connection = sqlite3.connect(self.target, timeout=_SQLITE_BUSY_SECONDS)
        try:
            connection.isolation_level = None  # autocommit: each statement is atomic
            cursor = connection.execute(sql, tuple(params))
            return cursor.fetchall() if fetch else cursor.rowcount
        finally:
            connection.close()

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        count: int = await asyncio.to_thread(self._run, sql, params, False)
        return count

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = await asyncio.to_thread(self._run, sql, params, True)
        return rows

    async def close(self) -> None:
        if self._memory is not None:
            self._memory.close()


class _PostgresDatabase:
    """A small psycopg pool (autocommit) that checks a connection before lending it.

    As the checkpointer's pool does (:mod:`agent.checkpoints`): after the database
    restarts, the next statement gets a fresh connection instead of every turn failing on
    the dead one until the process restarts.
    """

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, url: str) -> _PostgresDatabase:
        try:
            from psycopg_pool import AsyncConnectionPool
        except ImportError as error:
            raise RuntimeError(
                "a postgresql:// thread store needs psycopg and psycopg-pool: "
                "pip install 'ehr-agent[postgres]'"
            ) from error
        pool = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=CHECKPOINT_POOL_SIZE,
            timeout=CHECKPOINT_POOL_TIMEOUT_SECONDS,
            open=False,
            check=AsyncConnectionPool.check_connection,
            kwargs={"autocommit": True},
        )
        await pool.open(wait=True, timeout=CHECKPOINT_POOL_TIMEOUT_SECONDS)
        return cls(pool)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._pool.connection() as connection, connection.cursor() as cursor:
            await cursor.execute(sql.replace("?", "%s"), tuple(params))
            return int(cursor.rowcount)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async with self._pool.connection() as connection, connection.cursor() as cursor:
            await cursor.execute(sql.replace("?", "%s"), tuple(params))
            return list(await cursor.fetchall())

    async def close(self) -> None:
        await self._pool.close()


class ThreadRegistry:
    """Thread ownership and turn leases over one database (see the module doc)."""

    def __init__(self, database: _Database, *, backend: str) -> None:
        self.database = database
        self.backend = backend  # "sqlite" or "postgres": which checkpoint tables to trim

    @property
    def shares_checkpoint_database(self) -> bool:
        """False for ``:memory:``, where the checkpointer has a database of its own."""
        return getattr(self.database, "target", None) != ":memory:"

    async def setup(self) -> None:
        await self.database.execute(_SCHEMA)

    async def claim(self, caller: str, public_id: str, patient_id: str) -> ThreadClaim:
        """The caller's thread ``public_id`` for ``patient_id``; created if new.

        Raises :class:`ThreadConflict` when the caller already uses that id for another
        patient.  Atomic: of concurrent first claims, one inserts and the rest read it.
        """
        key = thread_key(caller, public_id)
        now = time.time()
        await self.database.execute(
            f"INSERT INTO {TABLE} (thread_key, caller, public_id, patient_id, created_at, "
            "last_used_at, lease_holder, lease_until) VALUES (?, ?, ?, ?, ?, ?, NULL, 0) "
            "ON CONFLICT (thread_key) DO NOTHING",
            (key, caller, public_id, patient_id, now, now),
        )
        rows = await self.database.fetchall(
            f"SELECT patient_id FROM {TABLE} WHERE thread_key = ?", (key,)
        )
        if not rows or rows[0][0] != patient_id:
            raise ThreadConflict(public_id)
        return ThreadClaim(key=key, public_id=public_id, caller=caller, patient_id=patient_id)

    async def _try_lease(self, key: str, holder: str) -> bool:
        now = time.time()
        updated = await self.database.execute(
            f"UPDATE {TABLE} SET lease_holder = ?, lease_until = ? "
            "WHERE thread_key = ? AND (lease_holder IS NULL OR lease_until < ?)",
            (holder, now + TURN_LEASE_SECONDS, key, now),
        )
        return updated == 1

    async def _renew(self, key: str, holder: str) -> None:
        while True:
            await asyncio.sleep(TURN_LEASE_SECONDS / 3)
            renewed = await self.database.execute(
                f"UPDATE {TABLE} SET lease_until = ? WHERE thread_key = ? AND lease_holder = ?",
                (time.time() + TURN_LEASE_SECONDS, key, holder),
            )
            if renewed != 1:
                logger.warning("the turn lease of a thread was lost (process paused too long?)")
                return

    async def _release(self, key: str, holder: str) -> None:
        await self.database.execute(
            f"UPDATE {TABLE} SET lease_holder = NULL, lease_until = 0, last_used_at = ? "
            "WHERE thread_key = ? AND lease_holder = ?",
            (time.time(), key, holder),
        )

    @asynccontextmanager
    async def turn(
        self, claim: ThreadClaim, *, wait_seconds: float = TURN_WAIT_SECONDS
    ) -> AsyncIterator[None]:
        """Hold the thread's lease for one turn, waiting (polling) for an earlier turn.

        Raises :class:`ThreadBusy` after ``wait_seconds``.  The lease is renewed in the
        background while the turn runs and released (and ``last_used_at`` stamped) after.
        """
        holder = uuid.uuid4().hex
        started = time.monotonic()
        pause = _POLL_FIRST_SECONDS
        while not await self._try_lease(claim.key, holder):
            waited = time.monotonic() - started
            if waited >= wait_seconds:
                raise ThreadBusy(claim.public_id, waited)
            await asyncio.sleep(min(pause, max(wait_seconds - waited, 0.0)))
            pause = min(pause * 1.5, _POLL_MAX_SECONDS)
        renewer = asyncio.create_task(self._renew(claim.key, holder))
        try:
            yield
        finally:
            renewer.cancel()
            with suppress(asyncio.CancelledError):
                await renewer
            await asyncio.shield(self._release(claim.key, holder))

    async def expired_keys(
        self,
        *,
        max_age_seconds: float = THREAD_MAX_AGE_SECONDS,
        max_threads: int = MAX_THREADS_KEPT,
        now: float | None = None,
    ) -> list[str]:
        """Threads past the retention policy: older than the age bound, or beyond the count
        bound (oldest first), and not in a turn right now."""
        moment = time.time() if now is None else now
        idle = "(lease_holder IS NULL OR lease_until < ?)"
        old = await self.database.fetchall(
            f"SELECT thread_key FROM {TABLE} WHERE last_used_at < ? AND {idle}",
            (moment - max_age_seconds, moment),
        )
        excess = await self.database.fetchall(
            f"SELECT thread_key FROM {TABLE} WHERE {idle} AND thread_key NOT IN "
            f"(SELECT thread_key FROM {TABLE} ORDER BY last_used_at DESC LIMIT ?)",
            (moment, max_threads),
        )
        return sorted({row[0] for row in [*old, *excess]})

    async def keys(self) -> list[str]:
        rows = await self.database.fetchall(f"SELECT thread_key FROM {TABLE}")
        return [row[0] for row in rows]

    async def forget(self, key: str) -> None:
        await self.database.execute(f"DELETE FROM {TABLE} WHERE thread_key = ?", (key,))

    async def close(self) -> None:
        await self.database.close()


@asynccontextmanager
async def open_thread_registry(target: str | Path) -> AsyncIterator[ThreadRegistry]:
    """The registry in the checkpointer's database: a SQLite path, ``:memory:`` or a
    ``postgresql://`` URL (the same string :func:`agent.checkpoints.open_checkpointer` took)."""
    spec = str(target)
    registry: ThreadRegistry
    if is_postgres_url(spec):
        registry = ThreadRegistry(await _PostgresDatabase.connect(spec), backend="postgres")
    else:
        registry = ThreadRegistry(_SqliteDatabase(spec), backend="sqlite")
    try:
        await registry.setup()
        yield registry
    finally:
        await registry.close()
