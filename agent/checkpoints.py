"""Checkpointers for multi-turn threads: SQLite by default, Postgres when installed.

A thread's state (question digest, evidence, aliases) lives in the checkpointer keyed by
thread id, so a follow-up in a later process still resolves "those" and can cite what an
earlier turn retrieved.  ``:memory:`` is for tests; the default file sits next to the
embedded store in the per-user data directory.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import platformdirs
from langgraph.checkpoint.base import BaseCheckpointSaver

from agent.settings import APP_NAME

__all__ = ["default_checkpoint_path", "open_checkpointer"]


def default_checkpoint_path() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME)) / "threads.sqlite"


def _sqlite_target(spec: str) -> str:
    """The SQLite path with its directory created (``:memory:`` unchanged)."""
    if spec == ":memory:":
        return spec
    path = Path(spec).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


@asynccontextmanager
async def open_checkpointer(
    target: str | Path | None = None,
) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """Open a checkpointer for ``target``.

    ``None`` -> the default SQLite file; ``":memory:"`` -> in-memory SQLite; a
    ``postgresql://`` URL -> Postgres (needs ``langgraph-checkpoint-postgres``); anything
    else -> a SQLite file path.
    """
    spec = str(target) if target is not None else str(default_checkpoint_path())
    if spec.startswith(("postgres://", "postgresql://")):
        try:
            module = importlib.import_module("langgraph.checkpoint.postgres.aio")
        except ImportError as error:
            raise RuntimeError(
                "a Postgres checkpoint URL needs the langgraph-checkpoint-postgres package: "
                "pip install langgraph-checkpoint-postgres"
            ) from error
        async with module.AsyncPostgresSaver.from_conn_string(spec) as saver:
            await saver.setup()
            yield saver
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with AsyncSqliteSaver.from_conn_string(_sqlite_target(spec)) as saver:
        yield saver
