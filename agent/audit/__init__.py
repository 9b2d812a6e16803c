"""The audit log: every FHIR request made for a question, and every answer's citations.

Kept in SQLite (the standard library's sqlite3) by :class:`AuditLog`; filled through a
generic request observer on :class:`fhir_client.FhirClient` (:func:`attach`) and
:func:`audited_question` around each question; shown by ``ehr-agent audit``.  It never
holds evidence, note text, answer text or credentials (see :mod:`agent.audit.records`).
"""

from agent.audit.access import (
    AccessNote,
    audited_access,
    cli_caller,
    query_shape,
    recorded_access,
    store_access,
)
from agent.audit.log import ENV_AUDIT_DB, AuditEntry, AuditLog, default_audit_path
from agent.audit.recording import AuditedTurn, audited_question
from agent.audit.records import AccessRecord, AnswerRecord, CitationRecord, FhirRequestRecord
from agent.audit.scope import attach

__all__ = [
    "ENV_AUDIT_DB",
    "AccessNote",
    "AccessRecord",
    "AnswerRecord",
    "AuditEntry",
    "AuditLog",
    "AuditedTurn",
    "CitationRecord",
    "FhirRequestRecord",
    "attach",
    "audited_access",
    "audited_question",
    "cli_caller",
    "default_audit_path",
    "query_shape",
    "recorded_access",
    "store_access",
]
