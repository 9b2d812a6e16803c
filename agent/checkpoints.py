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

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from agent.settings import APP_NAME
from fhir_client.limits import CHECKPOINT_POOL_SIZE, CHECKPOINT_POOL_TIMEOUT_SECONDS

if TYPE_CHECKING:  # LangGraph is imported when a checkpointer opens, not with this module
    from langgraph.checkpoint.base import BaseCheckpointSaver

__all__ = [
    "POSTGRES_SCHEMES",
    "CheckpointTarget",
    "default_checkpoint_path",
    "is_postgres_url",
    "open_checkpointer",
]

CheckpointTarget = str | Path | None
"""``None`` (the per-user SQLite file), ``":memory:"``, a SQLite path, or a Postgres URL."""

POSTGRES_SCHEMES = ("postgres://", "postgresql://")


def default_checkpoint_path() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME)) / "threads.sqlite"


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
    spec = str(target) if target is not None else str(default_checkpoint_path())
    if is_postgres_url(spec):
        async with _postgres(spec) as saver:
            yield saver
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with AsyncSqliteSaver.from_conn_string(_sqlite_target(spec)) as saver:
        yield saver
