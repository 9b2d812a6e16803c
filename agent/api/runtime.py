"""What the API serves with: one FHIR client, one compiled graph, one model, one lock.

Built once per server process by the app's lifespan and shared by every request.  FHIR
reads run concurrently; model calls do not: a llama.cpp model is single-threaded, and two
generations at once would interleave on one context (or double the memory of an
OpenAI-compatible server's queue).  So runs that use a model hold ``model_lock`` (one per
process, as the model is).  Thread ownership and the order of a thread's turns are held
in the database by :mod:`agent.threads`, so they hold across ``serve --workers N``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from agent.audit import AuditLog
from agent.checkpoints import trim_thread
from agent.configuration import AgentContext
from agent.graph import AgentGraph
from agent.models.base import ChatModel
from agent.threads import ThreadBusy, ThreadClaim, ThreadConflict, ThreadRegistry
from fhir_client.client import FhirClient
from fhir_client.errors import ResourceNotFound
from tools import make_toolset

__all__ = ["AgentRuntime", "ApiError"]

logger = logging.getLogger(__name__)


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
    threads: ThreadRegistry
    saver: BaseCheckpointSaver[Any] | None = None  # for trimming a thread after its turn
    audit: AuditLog | None = None  # every question's FHIR requests and citations go here
    public_source: str = "FHIR record"  # what /health may say about the source
    model_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def model_name(self) -> str:
        return self.model.name if self.model is not None else "none"

    @property
    def public_model_name(self) -> str:
        """The model's kind without paths or URLs (they name the server's disk or network)."""
        name = self.model_name
        if name.startswith("openai:"):
            return "openai" + (f"#{name.rsplit('#', 1)[1]}" if "#" in name else "")
        return PurePath(name).name

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

    async def claim_thread(self, caller: str, public_id: str, patient_id: str) -> ThreadClaim:
        """The caller's thread for this patient, or a 409 that does not name the other one.

        Claimed in the database before anything streams, so a clean status code comes
        back, and two racing first turns cannot both own the thread.
        """
        try:
            return await self.threads.claim(caller, public_id, patient_id)
        except ThreadConflict as error:
            raise ApiError(409, "thread_conflict", str(error)) from error

    @asynccontextmanager
    async def turn(self, claim: ThreadClaim) -> AsyncIterator[None]:
        """Hold the thread's lease (any process), and the model lock when a model runs;
        afterwards keep only the thread's latest checkpoint (the retention policy)."""
        async with AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(self.threads.turn(claim))
            except ThreadBusy as error:
                raise ApiError(409, "thread_busy", str(error)) from error
            if self.model is not None:
                await stack.enter_async_context(self.model_lock)
            yield
            if self.saver is not None:
                try:
                    await trim_thread(self.saver, self.threads, claim.key)
                except Exception:  # the answer stands; the periodic pass trims it later
                    logger.exception("could not trim a thread's old checkpoints")
