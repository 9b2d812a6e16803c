"""What an Assistant stands on, opened in order and closed in reverse.

The record source, the thread store (the checkpointer and the thread registry beside it),
the checkpoint retention task and the audit log are process resources with a lifetime:
each door opens them once, and a failure halfway must close what was already open.  This
module owns that order and nothing else; :meth:`agent.assistant.Assistant.open` builds the
graph and the Assistant on what it yields, so what an Assistant *does* (answers, checks,
thread turns) reads apart from how its resources come and go.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.audit import AuditLog, attach, default_audit_path
from agent.checkpoints import (
    CheckpointTarget,
    checkpoint_spec,
    enforce_retention,
    open_checkpointer,
    retention_loop,
)
from agent.record_source import Notify, RecordSource, open_record
from agent.settings import Settings
from agent.threads import ThreadRegistry, open_thread_registry

if TYPE_CHECKING:  # the type only: LangGraph is imported when a checkpointer opens
    from langgraph.checkpoint.base import BaseCheckpointSaver

__all__ = ["Opened", "open_resources"]


@dataclass(frozen=True)
class Opened:
    """The open resources an Assistant is built on (see :func:`open_resources`)."""

    source: RecordSource
    saver: BaseCheckpointSaver[Any]
    threads: ThreadRegistry
    audit: AuditLog | None


@asynccontextmanager
async def open_resources(
    settings: Settings,
    *,
    checkpoint: CheckpointTarget,
    audit: bool | Path,
    notify: Notify | None,
    source: RecordSource | None,
    retention: bool,
) -> AsyncIterator[Opened]:
    """Open the record (unless ``source`` is given: its caller owns it), the thread store,
    the retention task when asked, and the audit log; close them all on leaving.

    The arguments mean what :meth:`agent.assistant.Assistant.open` documents.
    """
    async with AsyncExitStack() as stack:
        if source is None:
            source = await stack.enter_async_context(
                open_record(settings, notify=notify or _ignore)
            )
        spec = checkpoint_spec(checkpoint)
        saver = await stack.enter_async_context(open_checkpointer(spec))
        threads = await stack.enter_async_context(open_thread_registry(spec))
        if retention:
            await enforce_retention(saver, threads)
            task = asyncio.create_task(retention_loop(saver, threads))
            stack.callback(task.cancel)
        log: AuditLog | None = None
        if audit is not False:
            path = audit if isinstance(audit, Path) else default_audit_path(settings)
            log = await asyncio.to_thread(AuditLog, path)  # creates the file: off the loop
            stack.callback(log.close)
            attach(source.client)
        yield Opened(source=source, saver=saver, threads=threads, audit=log)


def _ignore(_message: str) -> None:
    return None
