"""The chat session in-process: threads, slash commands, patient choice, Ctrl-C.

A scripted reader types the entries and an in-memory console records the output, so
each test reads what a user would have seen. Expected values come from the bundle JSON
(``tests.support.agent_truth``); the real embedded store and graph answer (``--model none``),
except for the cancellation test, whose model never finishes on purpose.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from rich.console import Console

from agent import build_graph, open_checkpointer
from agent.assistant import Assistant
from agent.cli.repl.input import PlainReader
from agent.cli.repl.session import ChatSession, UnknownPatient
from agent.cli.repl.view import ChatView
from agent.models.base import ChatModel, Completion, ModelError
from agent.models.spec import load_model
from fhir_client.client import FhirClient
from tests.support import agent_truth as truth
from tests.support.tools_datasets import Dataset, PatientRecord

Entry = str | type[BaseException]


class ScriptedReader:
    """Returns the entries in order (raising exception types); EOF at the end."""

    def __init__(self, *entries: Entry) -> None:
        self.entries = list(entries)
        self.prompts: list[str] = []

    async def read(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if not self.entries:
            raise EOFError
        entry = self.entries.pop(0)
        if isinstance(entry, str):
            return entry
        raise entry()


class NeverFinishes:
    """A model whose completion waits forever, so only Ctrl-C can end the answer."""

    name = "never-finishes"
    context_window = 8192

    def __init__(self) -> None:
        self.started = asyncio.Event()

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    async def complete(self, system: str, user: str, **_: Any) -> Completion:
        self.started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def _view() -> tuple[ChatView, io.StringIO]:
    buffer = io.StringIO()
    return ChatView(Console(file=buffer, width=200, color_system=None)), buffer


def _diabetic(dataset: Dataset) -> tuple[PatientRecord, list[dict[str, Any]]]:
    """A patient with HbA1c results on at least two days, and those results by day."""
    for record in dataset.patients:
        results = sorted(truth.hba1c_results(record), key=truth.day)
        if len({truth.day(r) for r in results}) >= 2:
            return record, results
    pytest.fail("no fixture patient has HbA1c results on two days")


@asynccontextmanager
async def _session(
    fhir: FhirClient, reader: ScriptedReader, loader: Any = load_model
) -> AsyncIterator[tuple[ChatSession, io.StringIO]]:
    view, buffer = _view()
    async with open_checkpointer(":memory:") as saver:
        assistant = Assistant(fhir, build_graph(checkpointer=saver), model="none", loader=loader)
        yield ChatSession(assistant, reader, view), buffer


async def test_follow_up_uses_the_thread_and_sources_reprints_the_last_answer(
    dataset: Dataset, fhir: FhirClient
) -> None:
    record, results = _diabetic(dataset)
    latest_day, latest_refs = truth.newest(results)
    previous_day, previous_refs = truth.newest([r for r in results if truth.day(r) < latest_day])
    reader = ScriptedReader("What was the latest HbA1c?", "and before that?", "/sources", "/quit")
    async with _session(fhir, reader) as (session, buffer):
        assert await session.start(record.id)
        thread = session.thread_id
        await session.run()
    out = buffer.getvalue()
    first, rest = out.split("→ lab_results(", 1)[1].split("→ lab_results(", 1)
    assert latest_day in first and any(ref in first for ref in latest_refs)
    follow_up, sources = rest.split("Sources", 1)[0], rest.split("Sources")[-1]
    assert previous_day in follow_up and any(ref in follow_up for ref in previous_refs)
    assert out.count("not for clinical decisions") == 2  # one reminder per answer
    assert any(ref in sources for ref in previous_refs)  # /sources: the last answer's
    assert not any(ref in sources for ref in latest_refs)
    assert session.thread_id == thread and reader.prompts[0].endswith("> ")


async def test_new_starts_a_fresh_thread_without_sources(
    dataset: Dataset, fhir: FhirClient
) -> None:
    record, _ = _diabetic(dataset)
    reader = ScriptedReader("What was the latest HbA1c?", "/new", "/sources")
    async with _session(fhir, reader) as (session, buffer):
        await session.start(record.id)
        before = session.thread_id
        await session.run()
    assert session.thread_id != before and session.last_output is None
    assert "No answer yet in this thread" in buffer.getvalue()


async def test_patient_command_switches_patient_and_thread(
    dataset: Dataset, fhir: FhirClient
) -> None:
    first, second = dataset.patients[0], dataset.patients[1]
    async with _session(fhir, ScriptedReader(f"/patient {second.id}")) as (session, buffer):
        await session.start(first.id)
        before = session.thread_id
        await session.run()
    assert session.patient is not None and session.patient.id == second.id
    assert session.thread_id != before
    assert f"[Patient/{second.id}]" in buffer.getvalue()


async def test_patient_chosen_by_name_fragment_then_id(dataset: Dataset, fhir: FhirClient) -> None:
    target = dataset.patients[0]
    family = str(target.of("Patient")[0]["name"][0]["family"])
    same_family = [r for r in dataset.patients if r.of("Patient")[0]["name"][0]["family"] == family]
    entries: list[Entry] = ["nobody-called-this", family.lower()[1:5]]
    if len(same_family) > 1:
        entries.append(target.id)  # several matched: they are listed, the id settles it
    async with _session(fhir, ScriptedReader(*entries)) as (session, buffer):
        assert await session.start(None)
    out = buffer.getvalue()
    assert session.patient is not None and session.patient.id == target.id
    assert all(record.id in out for record in dataset.patients)  # the list came first
    assert "No patient matches 'nobody-called-this'" in out
    assert f"[Patient/{target.id}]" in out


async def test_unknown_patient_id_is_refused(fhir: FhirClient) -> None:
    async with _session(fhir, ScriptedReader()) as (session, _):
        with pytest.raises(UnknownPatient, match="ehr-agent patients"):
            await session.start("no-such-patient")


async def test_ctrl_c_cancels_the_answer_and_the_session_goes_on(
    dataset: Dataset, fhir: FhirClient
) -> None:
    record, results = _diabetic(dataset)
    latest_day, _ = truth.newest(results)
    model = NeverFinishes()

    def loader(spec: str) -> ChatModel | None:
        return model if spec == "never" else load_model(spec)

    reader = ScriptedReader(
        "What was the latest HbA1c?", "/model none", "What was the latest HbA1c?", "/quit"
    )

    async def press_ctrl_c() -> None:
        await model.started.wait()
        os.kill(os.getpid(), signal.SIGINT)

    async with _session(fhir, reader, loader) as (session, buffer):
        session.model_spec = "never"
        interrupter = asyncio.create_task(press_ctrl_c())
        try:
            await session.start(record.id)
            await asyncio.wait_for(session.run(), timeout=60)
        finally:
            interrupter.cancel()
    out = buffer.getvalue()
    cancelled_at = out.index("Cancelled; the answer was not finished.")
    assert latest_day in out[cancelled_at:]  # the same thread answered after the cancel
    assert signal.getsignal(signal.SIGINT) is not None  # the handler was given back


async def test_bad_models_are_reported_and_the_session_goes_on(
    dataset: Dataset, fhir: FhirClient
) -> None:
    def loader(spec: str) -> ChatModel | None:
        if spec == "broken":
            raise ModelError("weights missing")
        return load_model(spec)

    record, _ = _diabetic(dataset)
    reader = ScriptedReader("Any allergies?", "/model gpt-9", "/model none", "/model", "/bogus")
    async with _session(fhir, reader, loader) as (session, buffer):
        session.model_spec = "broken"  # as if --model broken: loaded lazily, at the first question
        await session.start(record.id)
        await session.run()
    out = buffer.getvalue()
    assert "Cannot use model 'broken': weights missing" in out and "/model none" in out
    assert "Cannot use model 'gpt-9'" in out and "Still using broken" in out
    assert "Model: none (loaded)." in out
    assert "Unknown command /bogus" in out
    assert "→ allergies(" not in out  # no model, no answer: nothing was run


async def test_ctrl_c_at_the_prompt_twice_leaves(dataset: Dataset, fhir: FhirClient) -> None:
    reader = ScriptedReader(KeyboardInterrupt, "/help", KeyboardInterrupt, KeyboardInterrupt, "x")
    async with _session(fhir, reader) as (session, buffer):
        await session.start(dataset.patients[0].id)
        await session.run()
    out = buffer.getvalue()
    assert out.count("Ctrl-C again or Ctrl-D to leave") == 2  # /help reset the count
    assert "/summary" in out  # the help text
    assert reader.entries == ["x"]  # left after the second Ctrl-C in a row


async def test_summary_command_prints_the_cited_overview(
    dataset: Dataset, fhir: FhirClient
) -> None:
    record = max(dataset.patients, key=lambda r: len(r.of("Encounter")))
    async with _session(fhir, ScriptedReader("/summary")) as (session, buffer):
        await session.start(record.id)
        await session.run()
    out = buffer.getvalue()
    assert "Problems:" in out and "Recent encounters:" in out
    assert f"[Patient/{record.id}]" in out and "not for clinical decisions" in out
    for reference in truth.active_allergies(record):
        assert reference in out


async def test_plain_reader_joins_backslash_lines_and_ends_at_eof() -> None:
    output = io.StringIO()
    reader = PlainReader(io.StringIO("first \\\nsecond\nthird\n"), output)
    assert await reader.read("> ") == "first \nsecond"
    assert await reader.read("> ") == "third"
    with pytest.raises(EOFError):
        await reader.read("> ")
    assert output.getvalue().startswith("> first \\\n... second\n> third\n")
