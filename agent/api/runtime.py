"""What the API serves with: one FHIR client, one compiled graph, one model, one lock.

Built once per server by the app's lifespan and shared by every request.  FHIR reads run
concurrently; model calls do not: a llama.cpp model is single-threaded, and two
generations at once would interleave on one context (or double the memory of an
OpenAI-compatible server's queue).  So runs that use a model hold ``model_lock``; the
rule-based path (model ``none``) needs no lock.  Runs on one thread are also serialized,
since two turns racing on one checkpoint would lose one of them.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from agent.audit import AuditLog
from agent.configuration import AgentContext
from agent.graph import AgentGraph
from agent.models.base import ChatModel
from fhir_client.client import FhirClient
from fhir_client.errors import ResourceNotFound
from tools import make_toolset

__all__ = ["AgentRuntime", "ApiError"]


class ApiError(Exception):
    """A request the API refuses, with the HTTP status and a message saying what to do."""

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail


@dataclass
class AgentRuntime:
    client: FhirClient
    graph: AgentGraph
    model: ChatModel | None
    source_description: str
    audit: AuditLog | None = None  # every question's FHIR requests and citations go here
    model_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Weak values: a thread's lock lives while a turn holds or awaits it, then goes.
    _thread_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary
    )

    @property
    def model_name(self) -> str:
        return self.model.name if self.model is not None else "none"

    async def read_patient(self, patient_id: str) -> dict[str, Any]:
        """The Patient resource, or a 404 ``ApiError`` naming where to find valid ids."""
        try:
            return await self.client.read("Patient", patient_id)
        except ResourceNotFound as error:
            raise ApiError(
                404,
                "unknown_patient",
                f"No patient {patient_id!r} in the {self.source_description}; "
                "GET /patients lists the ids.",
            ) from error

    def context(self, patient_id: str) -> AgentContext:
        return AgentContext(toolset=make_toolset(self.client, patient_id), model=self.model)

    async def check_thread(self, thread_id: str, patient_id: str) -> None:
        """409 when ``thread_id`` is a conversation about another patient.

        The graph would refuse too, but only after the request started streaming; checking
        the checkpoint first gives a clean status code.
        """
        snapshot = await self.graph.aget_state({"configurable": {"thread_id": thread_id}})
        owner = (snapshot.values or {}).get("patient_id")
        if owner and owner != patient_id:
            raise ApiError(
                409,
                "thread_conflict",
                f"Thread {thread_id!r} is a conversation about another patient; "
                "omit thread_id to start a new conversation for this one.",
            )

    @asynccontextmanager
    async def turn(self, thread_id: str) -> AsyncIterator[None]:
        """Hold the thread's lock, and the model lock when a model will run."""
        lock = self._thread_locks.get(thread_id)
        if lock is None:
            lock = asyncio.Lock()
            self._thread_locks[thread_id] = lock
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(lock)
            if self.model is not None:
                await stack.enter_async_context(self.model_lock)
            yield
