"""The audit tables: which FHIR requests each question caused, and what was answered.

Deliberately absent: evidence lines, note text, the answer text (it quotes the record) and
any header or token.  An auditor can re-read a cited resource from the record itself; the
log only has to say who asked what about whom, what was read, and what was cited.  The
question is kept: it is the user's own input and the thing an audit has to show.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

__all__ = [
    "AccessRecord",
    "AnswerRecord",
    "AuditTable",
    "CitationRecord",
    "FhirRequestRecord",
    "utc_now",
]


class AuditTable(SQLModel, registry=registry()):
    """Base of the audit tables: their own metadata, apart from ``SQLModel.metadata``.

    The embedded store creates every table of ``SQLModel.metadata`` in its file; with a
    registry of their own the audit tables live only in the audit database.
    """


def utc_now() -> datetime:
    return datetime.now(UTC)


class AnswerRecord(AuditTable, table=True):
    """One question and its outcome; ``error`` is set (and no citations) when it failed."""

    __tablename__ = "answer"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utc_now, index=True)
    thread_id: str = Field(index=True)
    patient_id: str = Field(index=True)
    channel: str  # "ask", "chat" or "api": where the question came in
    caller: str = Field(default="", index=True)  # a token's name, "cli:<user>", "anonymous"
    question: str
    model: str
    fallback: bool = False
    error: str | None = None
    total_seconds: float = 0.0
    model_seconds: float = 0.0


class CitationRecord(AuditTable, table=True):
    """A reference cited by an answer, and whether it was verified against the evidence."""

    __tablename__ = "answer_citation"

    id: int | None = Field(default=None, primary_key=True)
    answer_id: int = Field(foreign_key="answer.id", index=True)
    reference: str
    verified: bool


class FhirRequestRecord(AuditTable, table=True):
    """One FHIR request made while answering; ``path`` has the query but never credentials."""

    __tablename__ = "fhir_request"

    id: int | None = Field(default=None, primary_key=True)
    answer_id: int | None = Field(default=None, foreign_key="answer.id", index=True)
    at: datetime = Field(default_factory=utc_now)
    thread_id: str = Field(index=True)
    patient_id: str = Field(index=True)
    method: str
    path: str
    status: int
    result_count: int | None = None
    ms: float = 0.0


class AccessRecord(AuditTable, table=True):
    """One read (or refused attempt) by one caller: an API request or a CLI command.

    ``action`` is the route template (``GET /patients/{patient_id}/summary``) or the CLI
    command (``cli summary``); ``target`` says what was read: the path with the query's
    parameter names but never their values (a value may be a name from the record or a
    token), e.g. ``/fhir/Observation?code&patient``.  ``status`` is the HTTP status, or
    for the CLI the status the same outcome would have had (200, 404, 409, 502, 500).
    """

    __tablename__ = "access"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utc_now, index=True)
    caller: str = Field(index=True)
    channel: str  # "api" or "cli"
    action: str
    patient_id: str | None = Field(default=None, index=True)
    target: str
    status: int
    thread_id: str | None = None
    ms: float = 0.0
