"""The Assistant: the record, the threads, the graph, the audit log and the model, opened once.

Every door is a thin adapter over this one object: the CLI's ``ask``, ``chat`` and
``summary``, the HTTP API, replay, LangGraph's server entry and the benches.  It lives below
all of them (it imports no door), so the wiring is written once and the doors cannot
disagree about which record, which model or which thread store they use::

    async with Assistant.open(Settings.resolve(), model="none", checkpoint=":memory:") as a:
        output = await a.ask("patient-id", "Latest HbA1c?")

Concurrency: FHIR reads run concurrently; model calls do not.  A llama.cpp model is
single-threaded and two generations at once would interleave on one context, so turns that
use a model hold ``model_lock``; the rule-based path needs none.  Turns on one thread are
serialized too, since two turns racing on one checkpoint would lose one of them: by a lease
in the database (:mod:`agent.threads`), so the order holds across processes (``serve
--workers N``, a CLI sharing the thread store).

Threads belong to a (caller, patient): :meth:`Assistant.claim_thread` claims one atomically
in the database, and the checkpointer stores it under a key scoped to the caller, so one
caller's thread ids neither reach nor block another's.  Every read is audited with its
caller: each question's FHIR requests (:func:`agent.audit.audited_question`) and each
command or request as a whole (:meth:`Assistant.access`).

What it opens and closes, and in which order, is :mod:`agent.opening`; thread claims and
turn order are :class:`agent.thread_turns.ThreadTurns`; the remembered patient checks are
:class:`agent.refusals.KnownPatients`.  Live objects stay here: the
graph's run context is JSON (:class:`RunContext`) that names this Assistant's
registration, through which the nodes find the toolset and the model.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.audit import (
    AccessNote,
    AuditedTurn,
    AuditLog,
    audited_access,
    audited_question,
    cli_caller,
)
from agent.checkpoints import CheckpointTarget
from agent.configuration import RunContext, register_resources, unregister_resources
from agent.events import AgentEvent, ask, new_thread_id, stream_answer
from agent.graph import AgentGraph, build_graph
from agent.model_slot import ModelChoice, ModelLoader, ModelSlot
from agent.models.base import ChatModel
from agent.models.spec import load_model
from agent.opening import open_resources
from agent.output import AgentOutput
from agent.patients import PatientListing, list_patients
from agent.record_cache import RecordCache, server_version
from agent.record_source import Notify, RecordSource
from agent.refusals import (
    AssistantError,
    KnownPatients,
    ThreadBusy,
    ThreadConflict,
    UnknownPatient,
)
from agent.settings import Settings
from agent.thread_turns import ThreadTurns
from agent.threads import ThreadClaim, ThreadRegistry
from fhir_client.client import FhirClient
from fhir_client.embedded import store_of
from fhir_client.limits import DEFAULT_PATIENT_PAGE
from tools import PatientToolset, make_toolset

if TYPE_CHECKING:
    from agent.summary import SummaryOutput

__all__ = [
    "Assistant",
    "AssistantError",
    "ModelChoice",
    "ModelLoader",
    "ThreadBusy",
    "ThreadClaim",
    "ThreadConflict",
    "UnknownPatient",
]


class Assistant:
    """One record, one thread store, one graph, one audit log, one model (see module doc)."""

    def __init__(
        self,
        client: FhirClient,
        graph: AgentGraph,
        *,
        model: ModelChoice = None,
        source_description: str = "FHIR server",
        audit: AuditLog | None = None,
        store: Any = None,
        loader: ModelLoader = load_model,
        threads: ThreadRegistry | None = None,
        saver: Any = None,
        caller: str | None = None,
    ) -> None:
        self.client = client
        self.graph = graph
        self.turns = ThreadTurns(graph, threads, saver)  # thread claims and turn order
        self.threads = threads
        self.saver = saver
        self.caller = caller or cli_caller()  # who asks when a turn names no caller
        self.source_description = source_description
        self.audit = audit
        self.store = store  # the embedded store when there is one (the API's /fhir serves it)
        self.key = f"assistant-{uuid.uuid4().hex}"
        self.model_lock = asyncio.Lock()
        self._slot = ModelSlot(model, loader)
        self._patients = KnownPatients(client, source_description)
        # Records and concept indexes kept across questions, keyed by the record's version:
        # the embedded store's, or a remote server's newest history entry (one request
        # per question); see agent.record_cache.
        own = store if store is not None else store_of(client)
        self.records: RecordCache | None = (
            RecordCache(own.record_version)
            if own is not None
            else RecordCache(remote_version=lambda: server_version(client))
        )
        register_resources(self.key, self)

    # Opening ---------------------------------------------------------------------------
    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        *,
        model: ModelChoice = "none",
        checkpoint: CheckpointTarget = ":memory:",
        audit: bool | Path = True,
        notify: Notify | None = None,
        source: RecordSource | None = None,
        loader: ModelLoader = load_model,
        caller: str | None = None,
        retention: bool = False,
    ) -> AsyncIterator[Assistant]:
        """Open everything for ``settings``; close it all on leaving.

        ``checkpoint`` is where threads live (``":memory:"``, a SQLite path, ``None`` for
        the per-user file, or a ``postgresql://`` URL).  ``audit`` is ``True`` for the
        default audit file next to the store, a path, or ``False``.  ``source`` is an
        already-open record to use instead of opening ``settings``' (the caller owns it).
        ``caller`` is who asks by default (``cli:<user>``); ``retention`` enforces the
        checkpoint retention policy at start and every ``RETENTION_INTERVAL_SECONDS``
        (``serve`` does; every turn trims its own thread anyway).
        """
        opening = open_resources(
            settings,
            checkpoint=checkpoint,
            audit=audit,
            notify=notify,
            source=source,
            retention=retention,
        )
        async with opening as opened:
            assistant = cls(
                opened.source.client,
                build_graph(checkpointer=opened.saver),
                model=model,
                source_description=opened.source.description,
                audit=opened.audit,
                store=opened.source.store,
                loader=loader,
                threads=opened.threads,
                saver=opened.saver,
                caller=caller,
            )
            try:
                yield assistant
            finally:  # before the resources close: no run may find a closing Assistant
                unregister_resources(assistant.key, assistant)

    # The model (held by a ModelSlot) ------------------------------------------------------
    @property
    def model(self) -> ChatModel | None:
        """The loaded model (``None``: rule-based, or not loaded yet; see ``ensure_model``)."""
        return self._slot.model

    @property
    def model_spec(self) -> str:
        return self._slot.spec

    @property
    def model_loaded(self) -> bool:
        return self._slot.loaded

    @property
    def model_name(self) -> str:
        return self._slot.name

    async def ensure_model(self) -> ChatModel | None:
        """Load the chosen model once, off the event loop (a GGUF takes seconds)."""
        return await self._slot.ensure()

    def choose_model(self, spec: str) -> None:
        """Use the model ``spec`` names from the next turn on, loading it then."""
        self._slot.choose(spec)

    async def use_model(self, spec: str) -> ChatModel | None:
        """Switch to the model ``spec`` names now; on failure the current one stays."""
        return await self._slot.use(spec)

    # RunResources: what the graph's nodes look up from the run context ----------------
    def toolset(self, patient_id: str) -> PatientToolset:
        toolset = make_toolset(self.client, patient_id)
        return self.records.attach(toolset) if self.records is not None else toolset

    def chat_model(self, spec: str) -> ChatModel | None:
        return self._slot.chat_model(spec)

    def context(self, patient_id: str, **budgets: Any) -> RunContext:
        """The JSON run context for one turn about ``patient_id`` with this model."""
        return RunContext(
            patient_id=patient_id, model_spec=self._slot.spec, resources=self.key, **budgets
        )

    # Checks ------------------------------------------------------------------------------
    async def check_patient(self, patient_id: str) -> dict[str, Any]:
        """The Patient resource (remembered: see :class:`KnownPatients`), or
        :class:`UnknownPatient`."""
        return await self._patients.check(patient_id)

    async def check_thread(self, thread_id: str, patient_id: str) -> None:
        """:class:`ThreadConflict` when ``thread_id`` is about another patient (see
        :meth:`ThreadTurns.check`)."""
        await self.turns.check(thread_id, patient_id)

    async def claim_thread(
        self, thread_id: str, patient_id: str, *, caller: str | None = None, check: bool = True
    ) -> ThreadClaim:
        """The caller's thread ``thread_id`` for ``patient_id``, or :class:`ThreadConflict`
        (claimed atomically before anything runs; see :meth:`ThreadTurns.claim`)."""
        who = caller or self.caller
        return await self.turns.claim(thread_id, patient_id, caller=who, check=check)

    @asynccontextmanager
    async def access(
        self,
        action: str,
        *,
        target: str,
        channel: str = "cli",
        caller: str | None = None,
        patient_id: str | None = None,
        thread_id: str | None = None,
    ) -> AsyncIterator[AccessNote]:
        """Audit one command's read of the record (who, which patient, the outcome)."""
        async with audited_access(
            self.audit,
            caller=caller or self.caller,
            channel=channel,
            action=action,
            target=target,
            patient_id=patient_id,
            thread_id=thread_id,
        ) as note:
            yield note

    async def health(self) -> dict[str, str]:
        """Whether the thread store answers (a Postgres restart shows here, not as 500s)."""
        try:
            await self.graph.aget_state({"configurable": {"thread_id": "health-check"}})
        except Exception as error:  # any failure is the report, not a crash
            return {"status": "degraded", "checkpoints": f"failing ({type(error).__name__})"}
        return {"status": "ok", "checkpoints": "ok"}

    def turn(self, claim: ThreadClaim) -> AbstractAsyncContextManager[None]:
        """Hold the thread's turn, and the model lock when a model will run; afterwards
        trim the thread to its latest checkpoint (see :meth:`ThreadTurns.turn`)."""
        return self.turns.turn(claim, self.model_lock if self._slot.model is not None else None)

    async def _prepare(
        self,
        patient_id: str,
        thread_id: str | None,
        check: bool,
        claim: ThreadClaim | None,
        caller: str | None,
    ) -> ThreadClaim:
        if check:
            await self.check_patient(patient_id)
        if claim is None:
            claim = await self.claim_thread(
                thread_id or new_thread_id(),
                patient_id,
                caller=caller,
                check=check and thread_id is not None,  # a new thread has no checkpoint yet
            )
        await self.ensure_model()
        return claim

    @asynccontextmanager
    async def _question(
        self,
        patient_id: str,
        question: str,
        thread_id: str | None,
        channel: str,
        check: bool,
        claim: ThreadClaim | None,
        caller: str | None,
    ) -> AsyncIterator[tuple[ThreadClaim, RunContext, AuditedTurn]]:
        """What ``ask`` and ``stream`` share: the checks, the thread's claim, the audit
        of the question's reads, and the turn held (lease, model lock, then the trim)."""
        claim = await self._prepare(patient_id, thread_id, check, claim, caller)
        async with (
            audited_question(
                self.audit, channel, claim.public_id, patient_id, question, caller=claim.caller
            ) as turn,
            self.turn(claim),
        ):
            yield claim, self.context(patient_id), turn

    # Answers -----------------------------------------------------------------------------
    async def ask(
        self,
        patient_id: str,
        question: str,
        *,
        thread_id: str | None = None,
        channel: str = "ask",
        configurable: dict[str, Any] | None = None,
        check: bool = True,
        claim: ThreadClaim | None = None,
        caller: str | None = None,
    ) -> AgentOutput:
        """One answer, audited with its caller.

        ``claim`` is a thread the door already claimed (the API does, to answer 404 or 409
        before a stream opens; it passes ``check=False`` too, having read the patient).
        The answer carries the thread id the caller chose, never the stored key.
        """
        asked = self._question(patient_id, question, thread_id, channel, check, claim, caller)
        async with asked as (held, context, turn):
            output = await ask(
                self.graph, context, question, thread_id=held.key, configurable=configurable
            )
            output.thread_id = held.public_id
            turn.answered(output)
        return output

    async def stream(
        self,
        patient_id: str,
        question: str,
        *,
        thread_id: str | None = None,
        channel: str = "ask",
        configurable: dict[str, Any] | None = None,
        check: bool = True,
        claim: ThreadClaim | None = None,
        caller: str | None = None,
    ) -> AsyncIterator[AgentEvent]:
        """Step events for one answer, ending with ``done`` or ``error``; audited (see
        :meth:`ask` for ``claim``).  A thread that stays busy raises :class:`ThreadBusy`."""
        asked = self._question(patient_id, question, thread_id, channel, check, claim, caller)
        async with asked as (held, context, turn):
            async for event in stream_answer(
                self.graph, context, question, thread_id=held.key, configurable=configurable
            ):
                if event.type == "done":
                    output = AgentOutput.model_validate(event.data["output"])
                    output.thread_id = held.public_id
                    event.data["output"] = output.model_dump()
                    turn.answered(output)
                elif event.type == "error":
                    turn.failed(str(event.data.get("kind", "error")))
                yield event

    async def summary(self, patient_id: str, *, max_tokens: int = 2048) -> SummaryOutput:
        """The cited longitudinal overview (composed from the record; no model needed)."""
        from agent.summary import patient_summary  # only this door's: not on ask's path

        await self.check_patient(patient_id)
        return await patient_summary(self.toolset(patient_id), max_tokens=max_tokens)

    async def patients(
        self, *, name: str | None = None, count: int = DEFAULT_PATIENT_PAGE, offset: int = 0
    ) -> PatientListing:
        """A page of patients with resource counts (as ``ehr-agent patients`` lists them)."""
        return await list_patients(self.client, name=name, count=count, offset=offset)
