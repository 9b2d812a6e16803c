"""Request and response bodies of the HTTP API.

The answer is the agent's own output contract (:class:`agent.output.AgentOutput`) plus
what only a screen needs: chartable series and the disclaimer.  Those are added here, in
the API layer, so the CLI's ``--json`` contract and replay files stay unchanged.

Every request field is bounded: an unbounded question would go straight into a model
prompt, and a free-form thread id into a checkpoint key.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from agent.output import AgentOutput

__all__ = [
    "DISCLAIMER",
    "MAX_QUESTION_CHARS",
    "THREAD_ID_PATTERN",
    "AnswerOut",
    "AskRequest",
    "ChartPoint",
    "ChartSeries",
    "ErrorOut",
    "PatientOut",
]

DISCLAIMER = "Generated from the record for information only; not for clinical decisions."
MAX_QUESTION_CHARS = 2000
THREAD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"


class AskRequest(BaseModel):
    """One question; pass the ``thread_id`` of an earlier answer to ask a follow-up."""

    question: str = Field(
        min_length=1,
        max_length=MAX_QUESTION_CHARS,
        pattern=r"\S",
        description="The question in plain words (1 to 2000 characters, not only spaces).",
        examples=["Show the HbA1c trend"],
    )
    thread_id: str | None = Field(
        None,
        pattern=THREAD_ID_PATTERN,
        description="Continue this conversation (omit to start a new one).",
    )


class PatientOut(BaseModel):
    id: str
    name: str
    gender: str | None = None
    birth_date: str | None = None
    deceased: bool = False
    resource_counts: dict[str, int] | None = Field(
        default=None, description="Resources by type in the record (with counts=true)."
    )


class ChartPoint(BaseModel):
    date: str = Field(description="The observation's effective date (YYYY-MM-DD...).")
    value: float
    reference: str = Field(description="The Observation behind this point.")
    cited: bool = Field(description="True when the answer cites this point.")


class ChartSeries(BaseModel):
    """Numeric results of one lab or vital (one code) the answer used, oldest first."""

    name: str
    code: str
    unit: str
    points: list[ChartPoint]


class AnswerOut(AgentOutput):
    """The agent's output contract, plus charts and the reminder the UI shows."""

    series: list[ChartSeries] = Field(
        default_factory=list,
        description="Lab/vital series (>= 2 numeric points, >= 1 cited) for a chart.",
    )
    disclaimer: str = DISCLAIMER


class ErrorOut(BaseModel):
    detail: str
    kind: Literal["unknown_patient", "thread_conflict", "bad_question", "fhir_error", "model_error"]
