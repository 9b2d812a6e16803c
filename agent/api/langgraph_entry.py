"""The graph LangGraph's own server runs (``langgraph.json`` -> ``graph``): the real one.

``langgraph dev`` (or LangGraph Platform) serves :func:`agent.graph.build_graph` itself:
its state, its input schema (``{"question": ...}``) and its JSON run context
(:class:`agent.configuration.RunContext`, e.g. ``{"patient_id": "...", "model_spec":
"none"}``).  The server owns the threads (its own checkpointer); this module only holds
what a JSON context cannot carry, for every run in the process: the record (opened as
the CLI opens it, from ``EHR_AGENT_DB`` / ``EHR_AGENT_FHIR_URL``) and the model
(``EHR_AGENT_MODEL``, loaded once), registered as the default run resources, and the
patients' records kept across runs (one :class:`agent.record_cache.RecordCache` for the
process, shared by every loop the server runs runs on).

File set-up happens here, at import, never on the server's event loop, and the embedded
store answers from a thread of its own (:mod:`agent.store_thread`): LangGraph's dev
server refuses blocking calls (``os.mkdir``, a SQLite query) inside a run.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from typing import Any

from agent.configuration import DEFAULT_RESOURCES, register_resources
from agent.graph import AgentGraph, build_graph
from agent.models.base import ChatModel, ModelError
from agent.models.spec import ENV_MODEL, load_model
from agent.record_cache import RecordCache, server_version
from agent.record_source import fill_from_fixtures, open_embedded_store
from agent.settings import Settings
from agent.store_thread import off_loop_client
from fhir_client.auth import BearerTokenAuth
from fhir_client.client import FhirClient
from fhir_client.embedded import EmbeddedStore
from fhir_client.limits import READ_TIMEOUT_SECONDS
from tools import PatientToolset, make_toolset

__all__ = ["ServedResources", "graph", "make_graph", "resources"]


class ServedResources:
    """The record and the model behind every run of this server process."""

    def __init__(self, settings: Settings, model_spec: str) -> None:
        self.settings = settings
        self.description = settings.source_description
        self.store: EmbeddedStore | None = None
        if settings.uses_embedded_store:
            self.store = open_embedded_store(settings.db_path)
            if self.store.is_empty():
                _run_apart(fill_from_fixtures(self.store, settings.fixtures_dir))
        self.model_spec = model_spec
        self.model: ChatModel | None = load_model(model_spec)
        # Records and concept indexes kept across runs, for every loop of the process (see
        # agent.record_cache): keyed by the store's version, or a remote server's newest
        # history entry read with this loop's client.
        self.records = (
            RecordCache(self.store.record_version)
            if self.store is not None
            else RecordCache(remote_version=lambda: server_version(self.client()))
        )
        # One client per event loop: an httpx client belongs to the loop that first used it.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, FhirClient] = (
            weakref.WeakKeyDictionary()
        )

    @classmethod
    def from_environment(cls) -> ServedResources:
        return cls(Settings.resolve(), os.environ.get(ENV_MODEL) or "none")

    def client(self) -> FhirClient:
        loop = asyncio.get_running_loop()
        found = self._clients.get(loop)
        if found is None:
            found = self._new_client()
            self._clients[loop] = found
        return found

    def _new_client(self) -> FhirClient:
        if self.store is not None:
            return off_loop_client(self.store, timeout=READ_TIMEOUT_SECONDS)
        token = self.settings.fhir_token
        return FhirClient(
            str(self.settings.fhir_url),
            auth=BearerTokenAuth(token) if token else None,
            timeout=READ_TIMEOUT_SECONDS,
        )

    # RunResources ----------------------------------------------------------------------
    def toolset(self, patient_id: str) -> PatientToolset:
        toolset = make_toolset(self.client(), patient_id)
        return self.records.attach_off_loop(toolset) if self.records is not None else toolset

    async def check_patient(self, patient_id: str) -> object:
        return await self.client().read("Patient", patient_id)

    def chat_model(self, spec: str) -> ChatModel | None:
        if spec.strip().lower() == "none":
            return None
        if spec == self.model_spec:
            return self.model
        raise ModelError(
            f"this server runs model {self.model_spec!r}, not {spec!r}: send "
            f'"model_spec": "{self.model_spec}" (or "none"), or restart it with '
            f"{ENV_MODEL}={spec}"
        )


def _run_apart(work: Any) -> None:
    """Run a coroutine to completion on its own loop in its own thread (import time)."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(work)
        except BaseException as error:  # re-raised in the importing thread
            failure.append(error)

    thread = threading.Thread(target=target, name="ehr-agent-fill")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


resources = ServedResources.from_environment()
register_resources(DEFAULT_RESOURCES, resources)

graph: AgentGraph = build_graph()
"""No checkpointer: the LangGraph server supplies its own."""


def make_graph() -> AgentGraph:
    """The served graph, for callers that want a factory."""
    return graph
