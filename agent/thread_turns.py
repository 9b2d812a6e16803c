"""Whose thread it is and whose turn: the Assistant's thread claims and turn order.

Apart from :mod:`agent.assistant` because it is one concern with its own state (the
registry, the checkpointer, this process's per-thread locks): which (caller, patient) a
thread belongs to, and that two turns on one thread never race on its checkpoint.  With a
registry (:mod:`agent.threads`) both hold across processes (``serve --workers N``, a CLI
sharing the thread store); without one (an Assistant built by hand, as replay's) threads
are keyed as named and turns are ordered by a lock in this process.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from agent.checkpoints import trim_thread
from agent.graph import AgentGraph
from agent.refusals import ThreadConflict
from agent.threads import ThreadClaim, ThreadRegistry

__all__ = ["ThreadTurns"]

logger = logging.getLogger(__name__)


class ThreadTurns:
    """Claims threads for a (caller, patient) and holds each thread's turn."""

    def __init__(self, graph: AgentGraph, threads: ThreadRegistry | None, saver: Any) -> None:
        self.graph = graph
        self.threads = threads  # ownership and turn leases; None: this process orders turns
        self.saver = saver  # the checkpointer, to trim a thread to its latest checkpoint
        # Weak values: a thread's lock lives while a turn holds or awaits it, then goes.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def check(self, thread_id: str, patient_id: str) -> None:
        """:class:`ThreadConflict` when the checkpoint ``thread_id`` is about another patient.

        For a thread stored under its own id (LangGraph's server names its threads); the
        doors claim theirs with :meth:`claim` instead.
        """
        snapshot = await self.graph.aget_state({"configurable": {"thread_id": thread_id}})
        owner = (snapshot.values or {}).get("patient_id")
        if owner and owner != patient_id:
            raise ThreadConflict(thread_id)

    async def claim(
        self, thread_id: str, patient_id: str, *, caller: str, check: bool = True
    ) -> ThreadClaim:
        """``caller``'s thread ``thread_id`` for ``patient_id``, or :class:`ThreadConflict`.

        Claimed atomically in the database before anything runs (or streams), so of two
        racing first turns exactly one owns the thread, and the refusal never names the
        other patient.  Without a registry the thread is keyed as named, and its
        checkpoint is checked when ``check`` is true.
        """
        if self.threads is not None:
            return await self.threads.claim(caller, thread_id, patient_id)
        if check:
            await self.check(thread_id, patient_id)
        return ThreadClaim(key=thread_id, public_id=thread_id, caller=caller, patient_id=patient_id)

    @asynccontextmanager
    async def turn(
        self, claim: ThreadClaim, also: asyncio.Lock | None = None
    ) -> AsyncIterator[None]:
        """Hold the thread's turn (then ``also``, the model lock when a model will run);
        afterwards keep only the thread's latest checkpoint (the retention policy).

        The turn is a lease in the database when there is a registry (any process), else
        a lock in this process.  :class:`ThreadBusy` when an earlier turn holds it for
        longer than ``TURN_WAIT_SECONDS``.
        """
        async with AsyncExitStack() as stack:
            if self.threads is not None:
                await stack.enter_async_context(self.threads.turn(claim))
            else:
                lock = self._locks.get(claim.key)
                if lock is None:
                    lock = asyncio.Lock()
                    self._locks[claim.key] = lock
                await stack.enter_async_context(lock)
            if also is not None:
                await stack.enter_async_context(also)
            yield
            if self.saver is not None and self.threads is not None:
                try:
                    await trim_thread(self.saver, self.threads, claim.key)
                except Exception:  # the answer stands; the periodic pass trims it later
                    logger.exception("could not trim a thread's old checkpoints")
