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
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

from agent.assistant import Assistant, AssistantError, ModelLoader, ThreadBusy, ThreadConflict
from agent.audit import AccessNote
from agent.checkpoints import CheckpointTarget
from agent.cli.repl.input import LineReader
from agent.cli.repl.patients import PatientChoice, find_patients, list_patient_choices
from agent.cli.repl.view import ChatView
from agent.events import new_thread_id
from agent.models.base import ModelError
from agent.models.spec import load_model
from agent.output import AgentOutput
from agent.settings import Settings
from fhir_client.errors import FhirError

__all__ = ["ChatSession", "SessionSetup", "UnknownPatient", "run_chat"]

PATIENT_PROMPT = "Patient id or name> "


class UnknownPatient(Exception):
    """``--patient`` names no patient in the data source; the message says what to do."""


@dataclass(frozen=True)
class SessionSetup:
    """Everything the command line decided before the session starts."""

    settings: Settings
    model_spec: str
    checkpoint: CheckpointTarget
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
    """State and commands of one interactive chat, over one :class:`Assistant`."""

    def __init__(self, assistant: Assistant, reader: LineReader, view: ChatView) -> None:
        self.assistant = assistant
        self.client = assistant.client
        self.reader = reader
        self.view = view
        self.patient: PatientChoice | None = None
        self.thread_id = new_thread_id()
        self.last_output: AgentOutput | None = None

    @property
    def model_spec(self) -> str:
        return self.assistant.model_spec

    @model_spec.setter
    def model_spec(self, spec: str) -> None:
        """Choose a model to load at the next question (as ``--model`` does at start)."""
        self.assistant.choose_model(spec)

    @property
    def prompt(self) -> str:
        name = self.patient.name if self.patient else "no patient"
        return f"{name}> "

    # Start-up and the loop ----------------------------------------------------------
    async def start(self, patient_id: str | None, thread_id: str | None = None) -> bool:
        """Bind the first patient; False if the user left while choosing."""
        if patient_id is not None:
            try:
                found = await self.assistant.check_patient(patient_id)
            except AssistantError as error:
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

    def _access(
        self, action: str, target: str
    ) -> contextlib.AbstractAsyncContextManager[AccessNote]:
        """Audit one read of this session (see :mod:`agent.audit.access`)."""
        return self.assistant.access(
            f"cli chat {action}",
            target=target,
            patient_id=self.patient.id if self.patient else None,
            thread_id=self.thread_id if action == "ask" else None,
        )

    # Questions ----------------------------------------------------------------------
    async def _ensure_model(self) -> bool:
        """Load the model at the first question, not at start-up; say so if it fails."""
        try:
            await self.assistant.ensure_model()
        except (ModelError, ValueError, OSError) as error:
            self.view.error(
                f"Cannot use model {self.model_spec!r}: {error} "
                "Switch with /model SPEC (e.g. /model none)."
            )
            return False
        return True

    async def answer(self, question: str) -> None:
        """Stream one answer in the current thread: tool calls, tokens, then sources."""
        if self.patient is None or not await self._ensure_model():
            return
        self.view.begin_answer()
        try:
            async with self._access("ask", f"Patient/{self.patient.id}"):
                await self._stream(self.patient.id, question)
        except (ThreadConflict, ThreadBusy) as error:
            self.view.error(f"{error} (/new starts a new thread).")

    async def _stream(self, patient_id: str, question: str) -> None:
        events = self.assistant.stream(
            patient_id, question, thread_id=self.thread_id, channel="chat", check=False
        )
        async for event in events:
            if event.type == "tool_call":
                self.view.tool_call(event.data["tool"], event.data.get("arguments", {}))
            elif event.type == "evidence":
                self.view.evidence(event.data["tool"], event.data["count"], event.data["error"])
            elif event.type == "token":
                self.view.token(event.data["text"], int(event.data.get("attempt", 1)))
            elif event.type == "done":
                self.last_output = AgentOutput.model_validate(event.data["output"])
                self.view.answer(self.last_output)
            elif event.type == "error":
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
            output = await self.assistant.summary(self.patient.id)
        self.view.summary(output)

    async def _switch_model(self, argument: str) -> None:
        if not argument:
            state = "loaded" if self.assistant.model_loaded else "loaded on the next question"
            self.view.info(f"Model: {self.model_spec} ({state}).")
            return
        try:
            await self.assistant.use_model(argument)
        except (ModelError, ValueError, OSError) as error:
            self.view.error(
                f"Cannot use model {argument!r}: {error} Still using {self.model_spec}."
            )
            return
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


async def run_chat(
    setup: SessionSetup, reader: LineReader, view: ChatView, loader: ModelLoader = load_model
) -> None:
    """Open the Assistant (record, thread store, audit log), then run the session to its end.

    The model is chosen now and loaded at the first question, so the prompt appears at
    once even when a GGUF takes seconds to load.
    """
    async with Assistant.open(
        setup.settings,
        model=setup.model_spec,
        checkpoint=setup.checkpoint,
        notify=view.notice,
        loader=loader,
    ) as assistant:
        session = ChatSession(assistant, reader, view)
        if await session.start(setup.patient_id, setup.thread_id):
            await session.run()
