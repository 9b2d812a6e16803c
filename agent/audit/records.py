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

__all__ = ["AnswerRecord", "AuditTable", "CitationRecord", "FhirRequestRecord", "utc_now"]


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
