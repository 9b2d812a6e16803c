"""The chat loop: one patient, one thread at a time, slash commands, cancellable answers.

Why the answer runs as its own task: Ctrl-C while an answer is being written must stop
that answer, not the session. During an answer SIGINT is routed to ``task.cancel()``;
at the prompt prompt_toolkit reads Ctrl-C as a key (it clears the line; twice in a row
leaves). A cancelled turn leaves the thread usable: the next question starts a new turn.

The thread id is the conversation memory (kept by the checkpointer), so follow-ups
such as "and before that?" resolve against the earlier answers; ``/new`` and a change
of patient start a fresh thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.audit import (
    AccessNote,
    AuditedTurn,
    AuditLog,
    attach,
    audited_access,
    audited_question,
    cli_caller,
    default_audit_path,
)
from agent.checkpoints import open_checkpointer
from agent.cli.fhir_source import open_fhir_client
from agent.cli.repl.input import LineReader
from agent.cli.repl.patients import PatientChoice, find_patients, list_patient_choices
from agent.cli.repl.view import ChatView
from agent.configuration import AgentContext
from agent.events import new_thread_id, stream_answer
from agent.graph import AgentGraph, build_graph
from agent.models.base import ChatModel, ModelError
from agent.models.spec import load_model
from agent.output import AgentOutput
from agent.settings import Settings
from agent.summary import patient_summary
from agent.threads import ThreadBusy, ThreadConflict, ThreadRegistry, open_thread_registry
from fhir_client.client import FhirClient
from fhir_client.errors import FhirError, ResourceNotFound
from tools import make_toolset

__all__ = ["ChatSession", "SessionSetup", "UnknownPatient", "run_chat"]

ModelLoader = Callable[[str], ChatModel | None]
PATIENT_PROMPT = "Patient id or name> "


class UnknownPatient(Exception):
    """``--patient`` names no patient in the data source; the message says what to do."""


@dataclass(frozen=True)
class SessionSetup:
    """Everything the command line decided before the session starts."""

    settings: Settings
    model_spec: str
    checkpoint: str | Path
    patient_id: str | None = None
    thread_id: str | None = None


@contextlib.contextmanager
def _sigint_cancels(task: asyncio.Future[Any]) -> Iterator[None]:
    """Route Ctrl-C (SIGINT) to ``task.cancel()`` for the duration, then restore."""
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGINT)
    try:
        loop.add_signal_handler(signal.SIGINT, task.cancel)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / Windows
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


class ChatSession:
    """State and commands of one interactive chat."""

    def __init__(
        self,
        client: FhirClient,
        graph: AgentGraph,
        reader: LineReader,
        view: ChatView,
        *,
        model_spec: str,
        loader: ModelLoader = load_model,
        audit: AuditLog | None = None,
        threads: ThreadRegistry | None = None,
    ) -> None:
        self.client = client
        self.audit = audit
        self.threads = threads
        self.caller = cli_caller()
        self.graph = graph
        self.reader = reader
        self.view = view
        self.model_spec = model_spec
        self._loader = loader
        self._model: ChatModel | None = None
        self._model_loaded = False  # loaded on the first question, not at start-up
        self.patient: PatientChoice | None = None
        self.thread_id = new_thread_id()
        self.last_output: AgentOutput | None = None

    @property
    def prompt(self) -> str:
        name = self.patient.name if self.patient else "no patient"
        return f"{name}> "

    # Start-up and the loop ----------------------------------------------------------
    async def start(self, patient_id: str | None, thread_id: str | None = None) -> bool:
        """Bind the first patient; False if the user left while choosing."""
        if patient_id is not None:
            try:
                found = await self.client.read("Patient", patient_id)
            except ResourceNotFound as error:
                raise UnknownPatient(
                    f"No patient {patient_id!r} in this data source; run `ehr-agent chat` "
                    "without --patient to choose one, or list ids with `ehr-agent patients`."
                ) from error
            self._bind(PatientChoice.of(found), thread_id)
            return True
        return await self._choose_interactively()

    async def run(self) -> None:
        """Read and handle entries until /quit, Ctrl-D, or Ctrl-C twice at the prompt."""
        self.view.notice("Type a question, or /help for commands.")
        interrupts = 0
        while True:
            try:
                line = await self.reader.read(self.prompt)
            except KeyboardInterrupt:
                interrupts += 1
                if interrupts >= 2:
                    return
                self.view.notice("(Ctrl-C again or Ctrl-D to leave.)")
                continue
            except EOFError:
                return
            interrupts = 0
            text = line.strip()
            if not text:
                continue
            if text.startswith("/"):
                if not await self.command(text):
                    return
            else:
                await self._cancellable(self.answer(text))

    async def _cancellable(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        with _sigint_cancels(task):
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # the session itself is being cancelled
                self.view.cancelled()

    # Questions ----------------------------------------------------------------------
    async def _ensure_model(self) -> bool:
        if self._model_loaded:
            return True
        try:
            self._model = await asyncio.to_thread(self._loader, self.model_spec)
        except (ModelError, ValueError, OSError) as error:
            self.view.error(
                f"Cannot use model {self.model_spec!r}: {error} "
                "Switch with /model SPEC (e.g. /model none)."
            )
            return False
        self._model_loaded = True
        return True

    def _access(
        self, action: str, target: str
    ) -> contextlib.AbstractAsyncContextManager[AccessNote]:
        """Audit one read of this session (see :mod:`agent.audit.access`)."""
        patient = self.patient.id if self.patient else None
        return audited_access(
            self.audit,
            caller=self.caller,
            channel="cli",
            action=f"cli chat {action}",
            target=target,
            patient_id=patient,
            thread_id=self.thread_id if action == "ask" else None,
        )

    async def answer(self, question: str) -> None:
        """Stream one answer in the current thread: tool calls, tokens, then sources."""
        if self.patient is None or not await self._ensure_model():
            return
        toolset = make_toolset(self.client, self.patient.id)
        context = AgentContext(toolset=toolset, model=self._model)
        self.view.begin_answer()
        audit = audited_question(
            self.audit, "chat", self.thread_id, self.patient.id, question, caller=self.caller
        )
        try:
            async with (
                self._access("ask", f"Patient/{self.patient.id}"),
                self._turn() as key,
                audit as turn,
            ):
                await self._stream(context, question, turn, key)
        except (ThreadConflict, ThreadBusy) as error:
            self.view.error(f"{error} (/new starts a new thread).")

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[str]:
        """The checkpoint key of the current thread, held for one turn (any process)."""
        assert self.patient is not None
        if self.threads is None:
            yield self.thread_id
            return
        claim = await self.threads.claim(self.caller, self.thread_id, self.patient.id)
        async with self.threads.turn(claim):
            yield claim.key

    async def _stream(
        self, context: AgentContext, question: str, turn: AuditedTurn, key: str
    ) -> None:
        events = stream_answer(self.graph, context, question, thread_id=key)
        async for event in events:
            if event.type == "tool_call":
                self.view.tool_call(event.data["tool"], event.data.get("arguments", {}))
            elif event.type == "evidence":
                self.view.evidence(event.data["tool"], event.data["count"], event.data["error"])
            elif event.type == "token":
                self.view.token(event.data["text"], int(event.data.get("attempt", 1)))
            elif event.type == "done":
                self.last_output = AgentOutput.model_validate(event.data["output"])
                self.last_output.thread_id = self.thread_id
                turn.answered(self.last_output)
                self.view.answer(self.last_output)
            elif event.type == "error":
                turn.failed(str(event.data.get("kind", "error")))
                self.view.error(f"{event.data['message']} (the session goes on; ask again).")

    # Commands -----------------------------------------------------------------------
    async def command(self, text: str) -> bool:
        """Handle one slash command; False means leave the session."""
        name, _, argument = text.partition(" ")
        argument = argument.strip()
        if name in {"/quit", "/exit", "/q"}:
            return False
        handlers: dict[str, Callable[[str], Coroutine[Any, Any, None]]] = {
            "/help": self._help,
            "/patient": self._patient,
            "/summary": self._summary,
            "/sources": self._sources,
            "/new": self._new,
            "/model": self._switch_model,
        }
        handler = handlers.get(name)
        if handler is None:
            self.view.error(f"Unknown command {name}; /help lists the commands.")
            return True
        try:
            await self._cancellable(handler(argument))
        except FhirError as error:
            self.view.error(f"{error} (the session goes on).")
        return True

    async def _help(self, _argument: str) -> None:
        self.view.help()

    async def _sources(self, _argument: str) -> None:
        if self.last_output is None:
            self.view.info("No answer yet in this thread; ask a question first.")
            return
        self.view.sources(self.last_output)

    async def _new(self, _argument: str) -> None:
        self.thread_id = new_thread_id()
        self.last_output = None
        self.view.info(f"New thread {self.thread_id}; follow-ups start afresh.")

    async def _summary(self, _argument: str) -> None:
        if self.patient is None:
            return
        async with self._access("summary", f"Patient/{self.patient.id}"):
            output = await patient_summary(make_toolset(self.client, self.patient.id))
        self.view.summary(output)

    async def _switch_model(self, argument: str) -> None:
        if not argument:
            state = "loaded" if self._model_loaded else "loaded on the next question"
            self.view.info(f"Model: {self.model_spec} ({state}).")
            return
        try:
            model = await asyncio.to_thread(self._loader, argument)
        except (ModelError, ValueError, OSError) as error:
            self.view.error(
                f"Cannot use model {argument!r}: {error} Still using {self.model_spec}."
            )
            return
        self.model_spec, self._model, self._model_loaded = argument, model, True
        self.view.info(f"Model: {argument}. The thread goes on with the new model.")

    async def _patient(self, argument: str) -> None:
        if not argument:
            await self._choose_interactively()
            return
        matches = await find_patients(self.client, argument)
        self._take(matches, argument)

    async def _choose_interactively(self) -> bool:
        async with self._access("patients", "Patient"):
            choices = await list_patient_choices(self.client)
        self.view.patients(choices, "Patients")
        while True:
            try:
                text = (await self.reader.read(PATIENT_PROMPT)).strip()
            except (EOFError, KeyboardInterrupt):
                return False
            if text and self._take(await find_patients(self.client, text), text):
                return True

    def _take(self, matches: list[PatientChoice], wanted: str) -> bool:
        if len(matches) == 1:
            self._bind(matches[0], None)
            return True
        if not matches:
            self.view.error(f"No patient matches {wanted!r}; give an id or part of a name.")
        else:
            self.view.patients(matches, f"{len(matches)} patients match {wanted!r}; pick an id")
        return False

    def _bind(self, patient: PatientChoice, thread_id: str | None) -> None:
        self.patient = patient
        self.thread_id = thread_id or new_thread_id()
        self.last_output = None
        self.view.info(f"Patient: {patient.label}. Thread {self.thread_id}.")


async def run_chat(setup: SessionSetup, reader: LineReader, view: ChatView) -> None:
    """Open the data source and the thread store, then run the session to its end."""
    async with (
        open_fhir_client(setup.settings, notify=view.notice) as client,
        open_checkpointer(setup.checkpoint) as saver,
        open_thread_registry(setup.checkpoint) as threads,
    ):
        audit = AuditLog(default_audit_path(setup.settings))
        attach(client)
        session = ChatSession(
            client,
            build_graph(checkpointer=saver),
            reader,
            view,
            model_spec=setup.model_spec,
            audit=audit,
            threads=threads,
        )
        try:
            if await session.start(setup.patient_id, setup.thread_id):
                await session.run()
        finally:
            audit.close()
