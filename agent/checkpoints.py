"""Checkpointers for multi-turn threads: SQLite by default, PostgreSQL for a URL.

A thread's state (question digest, evidence, aliases) lives in the checkpointer keyed by
thread id, so a follow-up in a later process still resolves "those" and can cite what an
earlier turn retrieved.  ``:memory:`` is for tests; the default file sits next to the
embedded store in the per-user data directory.

PostgreSQL goes through a connection pool that checks a connection before lending it:
after the database restarts, the next turn gets a fresh connection instead of every turn
failing on the dead one until the process restarts.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from agent.settings import APP_NAME
from fhir_client.limits import (
    CHECKPOINT_POOL_SIZE,
    CHECKPOINT_POOL_TIMEOUT_SECONDS,
    MAX_THREADS_KEPT,
    RETENTION_INTERVAL_SECONDS,
    THREAD_MAX_AGE_SECONDS,
)

if TYPE_CHECKING:  # LangGraph is imported when a checkpointer opens, not with this module
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from agent.threads import ThreadRegistry

__all__ = [
    "POSTGRES_SCHEMES",
    "CheckpointTarget",
    "RetentionReport",
    "checkpoint_spec",
    "default_checkpoint_path",
    "enforce_retention",
    "is_postgres_url",
    "open_checkpointer",
    "retention_loop",
    "trim_thread",
]

logger = logging.getLogger(__name__)

CheckpointTarget = str | Path | None
"""``None`` (the per-user SQLite file), ``":memory:"``, a SQLite path, or a Postgres URL."""

POSTGRES_SCHEMES = ("postgres://", "postgresql://")


def default_checkpoint_path() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME)) / "threads.sqlite"


def checkpoint_spec(target: CheckpointTarget) -> str:
    """The checkpointer's database as one string: a SQLite path, ``:memory:`` or a URL."""
    return str(target) if target is not None else str(default_checkpoint_path())


def is_postgres_url(target: CheckpointTarget) -> bool:
    """True for a ``postgres://`` or ``postgresql://`` URL (never a file path)."""
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def _sqlite_target(spec: str) -> str:
    """The SQLite path with its directory created (``:memory:`` unchanged)."""
    if spec == ":memory:":
        return spec
    if "://" in spec or spec.startswith(("postgres:", "postgresql:")):
        raise ValueError(
            f"{spec!r} is neither a file path nor a postgresql:// URL; "
            "give a SQLite file or postgresql://user@host:port/dbname"
        )
    path = Path(spec).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


@asynccontextmanager
async def _postgres(url: str) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    try:
        saver_module = importlib.import_module("langgraph.checkpoint.postgres.aio")
        pool_module = importlib.import_module("psycopg_pool")
        rows = importlib.import_module("psycopg.rows")
    except ImportError as error:
        raise RuntimeError(
            "a postgresql:// checkpoint URL needs the Postgres checkpointer: "
            "pip install 'ehr-agent[agent]' (langgraph-checkpoint-postgres, psycopg)"
        ) from error
    pool = pool_module.AsyncConnectionPool(
        url,
        min_size=1,
        max_size=CHECKPOINT_POOL_SIZE,
        timeout=CHECKPOINT_POOL_TIMEOUT_SECONDS,
        open=False,
        check=pool_module.AsyncConnectionPool.check_connection,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": rows.dict_row},
    )
    await pool.open(wait=True, timeout=CHECKPOINT_POOL_TIMEOUT_SECONDS)
    try:
        saver = saver_module.AsyncPostgresSaver(pool)
        await saver.setup()
        yield saver
    finally:
        await pool.close()


@asynccontextmanager
async def open_checkpointer(
    target: CheckpointTarget = None,
) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """Open a checkpointer for ``target`` (see :data:`CheckpointTarget`)."""
    spec = checkpoint_spec(target)
    if is_postgres_url(spec):
        async with _postgres(spec) as saver:
            yield saver
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with AsyncSqliteSaver.from_conn_string(_sqlite_target(spec)) as saver:
        yield saver


# --- Retention -------------------------------------------------------------------------
# Every super-step of a turn writes a checkpoint (a whole state with its evidence), so an
# unpruned store grows by megabytes per question.  A follow-up needs only a thread's latest
# checkpoint; a thread nobody used for THREAD_MAX_AGE_SECONDS, or beyond the newest
# MAX_THREADS_KEPT, is deleted outright.  Enforced after every served turn (its own thread),
# at ``serve`` start and every RETENTION_INTERVAL_SECONDS (all threads).

_SQLITE_KEEP_LATEST = (
    "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_id NOT IN "
    "(SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = ? GROUP BY checkpoint_ns)",
    "DELETE FROM writes WHERE thread_id = ? AND NOT EXISTS (SELECT 1 FROM checkpoints c "
    "WHERE c.thread_id = writes.thread_id AND c.checkpoint_ns = writes.checkpoint_ns "
    "AND c.checkpoint_id = writes.checkpoint_id)",
)

# The same for every registered thread at once (serve start, periodic passes).
_SQLITE_KEEP_LATEST_ALL = (
    "DELETE FROM checkpoints WHERE thread_id IN (SELECT thread_key FROM ehr_agent_thread) "
    "AND (thread_id, checkpoint_ns, checkpoint_id) NOT IN (SELECT thread_id, checkpoint_ns, "
    "max(checkpoint_id) FROM checkpoints GROUP BY thread_id, checkpoint_ns)",
    "DELETE FROM writes WHERE thread_id IN (SELECT thread_key FROM ehr_agent_thread) "
    "AND NOT EXISTS (SELECT 1 FROM checkpoints c WHERE c.thread_id = writes.thread_id "
    "AND c.checkpoint_ns = writes.checkpoint_ns AND c.checkpoint_id = writes.checkpoint_id)",
)


@dataclass(frozen=True)
class RetentionReport:
    """What one retention pass did (counts only: thread keys are not for logs)."""

    threads_deleted: int
    threads_trimmed: int


async def trim_thread(saver: BaseCheckpointSaver[Any], registry: ThreadRegistry, key: str) -> None:
    """Keep only ``key``'s latest checkpoint (per namespace) and its pending writes."""
    if registry.backend == "postgres":
        await saver.aprune([key], strategy="keep_latest")
        return
    if not registry.shares_checkpoint_database:
        return
    for sql in _SQLITE_KEEP_LATEST:
        await _sqlite_statement(registry, sql, (key,) * sql.count("?"))


async def _sqlite_statement(registry: ThreadRegistry, sql: str, params: tuple[str, ...]) -> None:
    try:
        await registry.database.execute(sql, params)
    except sqlite3.OperationalError as error:  # no such table: nothing checkpointed yet
        if "no such table" not in str(error):
            raise


async def enforce_retention(
    saver: BaseCheckpointSaver[Any],
    registry: ThreadRegistry,
    *,
    max_age_seconds: float = THREAD_MAX_AGE_SECONDS,
    max_threads: int = MAX_THREADS_KEPT,
) -> RetentionReport:
    """Delete threads past the age or count bound; trim every other one to its latest."""
    expired = await registry.expired_keys(max_age_seconds=max_age_seconds, max_threads=max_threads)
    for key in expired:
        await saver.adelete_thread(key)
        await registry.forget(key)
    kept = await registry.keys()
    if registry.backend == "postgres":
        if kept:
            await saver.aprune(kept, strategy="keep_latest")
    elif registry.shares_checkpoint_database:
        for sql in _SQLITE_KEEP_LATEST_ALL:  # one pass, not one per thread
            await _sqlite_statement(registry, sql, ())
    return RetentionReport(threads_deleted=len(expired), threads_trimmed=len(kept))


async def retention_loop(
    saver: BaseCheckpointSaver[Any],
    registry: ThreadRegistry,
    interval_seconds: float = RETENTION_INTERVAL_SECONDS,
) -> None:
    """Enforce the retention policy every ``interval_seconds``, until cancelled."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            report = await enforce_retention(saver, registry)
            logger.info(
                "checkpoint retention: %d thread(s) deleted, %d trimmed",
                report.threads_deleted,
                report.threads_trimmed,
            )
        except Exception:  # a failed pass must not stop serving; the next one retries
            logger.exception("checkpoint retention failed")
