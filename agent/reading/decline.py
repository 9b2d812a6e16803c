"""Questions the assistant declines, and the reading as the graph state stores it.

Two honest refusals, decided in ``route`` before anything is retrieved: a person named
in the question who is not the patient this conversation is bound to (compared with
every name on the Patient resource), and a question in a language the rules cannot
read (with a model too: the rules check what a model reads, and cannot check this).
Both say why, so the user can act.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from agent.answer_text import normalise_number
from agent.reading.model import Reading
from agent.reading.person import names_match, patient_names

__all__ = ["decline_reason", "reading_numbers", "stored_reading"]

LANGUAGE_MESSAGE = (
    "I could not understand this question: only English questions are understood (the "
    "checks every answer passes read English), and this one does not read as English. "
    'Please ask it in English (for example: "What was the most recent HbA1c?").'
)


class PatientReader(Protocol):
    """What the person check needs: the bound Patient (``PatientToolset.scope``)."""

    scope: Any


def reading_numbers(reading: Reading) -> list[str]:
    """The numbers a question states, as the verifier normalises numbers ("7", "6.5"),
    and the days of its period ("in 2020": 2020-01-01, 2020-12-31), which an uncited
    "none in that window" may repeat."""
    values: list[float] = []
    if reading.threshold is not None:
        values.append(reading.threshold.value)
    if reading.last_n is not None:
        values.append(float(reading.last_n))
    period = reading.period
    stated = (period.since, period.until) if period else ()
    days = [d for day in stated if day for d in (day, day[:4])]  # "in 2020": 2020 too
    return [*(normalise_number(f"{value:g}") for value in values), *days]


def stored_reading(turn: Mapping[str, Any]) -> Reading:
    """The reading in a turn's record (``AgentState["current"]``; empty when there is none)."""
    data = turn.get("reading")
    return Reading.model_validate(data) if isinstance(data, dict) else Reading()


async def decline_reason(reading: Reading, toolset: PatientReader) -> str:
    """Why the question must be declined ("" when it can be answered)."""
    if reading.language != "en":
        # With a model too: what the model made of the question could not be checked
        # against the rules' reading (period, threshold, person), so nothing is guessed.
        return LANGUAGE_MESSAGE
    if reading.person is None:
        return ""
    patient = await toolset.scope.read_patient()
    names = patient_names(patient)
    if names_match(reading.person, names):
        return ""
    bound = names[0] if names else "another patient"
    return (
        f"This conversation is about {bound}, not {reading.person}: no part of "
        f"{reading.person}'s record is available here, so nothing was looked up. To ask "
        f"about {reading.person}, open a conversation for their record."
    )
