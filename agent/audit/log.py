"""The audit database: where it lives, writing one question's records, reading them back.

SQLite next to the embedded store (one project directory holds record, threads and
audit), else the per-user data directory; ``EHR_AGENT_AUDIT_DB`` overrides both.  A
question's answer, citations and requests are written in one transaction, after the
answer, so a crash mid-answer cannot leave requests filed under no question.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from sqlalchemy import Engine
from sqlmodel import Session, col, create_engine, select

from agent.audit.records import AnswerRecord, AuditTable, CitationRecord, FhirRequestRecord
from agent.output import AgentOutput
from agent.settings import APP_NAME, Settings

__all__ = ["ENV_AUDIT_DB", "AuditEntry", "AuditLog", "default_audit_path"]

ENV_AUDIT_DB = "EHR_AGENT_AUDIT_DB"
AUDIT_FILE = "audit.sqlite"


def default_audit_path(settings: Settings, environ: Mapping[str, str] | None = None) -> Path:
    """``$EHR_AGENT_AUDIT_DB``, else next to the embedded store, else the data directory."""
    env = os.environ if environ is None else environ
    if env.get(ENV_AUDIT_DB):
        return Path(env[ENV_AUDIT_DB]).expanduser()
    if settings.uses_embedded_store and str(settings.db_path) != ":memory:":
        return settings.db_path.parent / AUDIT_FILE
    return Path(platformdirs.user_data_dir(APP_NAME)) / AUDIT_FILE


@dataclass(frozen=True)
class AuditEntry:
    """An answer with its citations and the FHIR requests made for it, for display."""

    answer: AnswerRecord
    citations: list[CitationRecord]
    requests: list[FhirRequestRecord]


class AuditLog:
    """Append-only access to one audit database (tables created on first open)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._engine: Engine = create_engine(
            f"sqlite:///{path}", connect_args={"check_same_thread": False}
        )
        AuditTable.metadata.create_all(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    def record(
        self,
        answer: AnswerRecord,
        requests: list[FhirRequestRecord],
        output: AgentOutput | None = None,
    ) -> int:
        """Store one question: the answer row, its citations (from ``output``), its requests."""
        with Session(self._engine) as session:
            session.add(answer)
            session.flush()
            assert answer.id is not None  # set by the flush
            for citation in output.citations if output is not None else []:
                session.add(
                    CitationRecord(
                        answer_id=answer.id,
                        reference=citation.reference,
                        verified=citation.verified,
                    )
                )
            for request in requests:
                request.answer_id = answer.id
                session.add(request)
            session.commit()
            return answer.id

    def entries(
        self, *, patient_id: str | None = None, thread_id: str | None = None, limit: int = 20
    ) -> list[AuditEntry]:
        """The newest ``limit`` answers (filtered), oldest first, each with what it read."""
        with Session(self._engine) as session:
            query = select(AnswerRecord)
            if patient_id is not None:
                query = query.where(AnswerRecord.patient_id == patient_id)
            if thread_id is not None:
                query = query.where(AnswerRecord.thread_id == thread_id)
            query = query.order_by(col(AnswerRecord.id).desc()).limit(limit)
            answers = list(reversed(session.exec(query).all()))
            found: list[AuditEntry] = []
            for answer in answers:
                citations = session.exec(
                    select(CitationRecord)
                    .where(CitationRecord.answer_id == answer.id)
                    .order_by(col(CitationRecord.id))
                ).all()
                requests = session.exec(
                    select(FhirRequestRecord)
                    .where(FhirRequestRecord.answer_id == answer.id)
                    .order_by(col(FhirRequestRecord.id))
                ).all()
                found.append(AuditEntry(answer, list(citations), list(requests)))
            return found
