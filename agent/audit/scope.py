"""Which question a FHIR request belongs to, without threading ids through the tools.

A context variable holds the current :class:`QuestionScope`; asyncio tasks (LangGraph's
node runs included) inherit it, so the observer attached to the client once can file
each request under the question that caused it.  Requests made outside any question
(the patient list, a summary) are not collected.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.audit.records import FhirRequestRecord, utc_now

if TYPE_CHECKING:  # the audit is written by commands that never open a client
    from fhir_client.client import FhirClient
    from fhir_client.observe import RequestObservation

__all__ = ["QuestionScope", "attach", "current_scope", "enter", "leave", "observe"]


@dataclass
class QuestionScope:
    thread_id: str
    patient_id: str
    requests: list[FhirRequestRecord] = field(default_factory=list)


_current: ContextVar[QuestionScope | None] = ContextVar("ehr_agent_audit_scope", default=None)


def current_scope() -> QuestionScope | None:
    return _current.get()


def observe(observation: RequestObservation) -> None:
    """The client observer: file the request under the current question, if any."""
    scope = _current.get()
    if scope is None:
        return
    scope.requests.append(
        FhirRequestRecord(
            at=utc_now(),
            thread_id=scope.thread_id,
            patient_id=scope.patient_id,
            method=observation.method,
            path=observation.path,
            status=observation.status,
            result_count=observation.result_count,
            ms=observation.elapsed_ms,
        )
    )


def attach(client: FhirClient) -> None:
    """Let the audit see ``client``'s requests (idempotent)."""
    client.add_observer(observe)


def enter(scope: QuestionScope) -> Token[QuestionScope | None]:
    """Make ``scope`` current; returns the token for :func:`leave`."""
    return _current.set(scope)


def leave(token: Token[QuestionScope | None]) -> None:
    """Undo :func:`enter`; a token from another context (a moved generator) is dropped."""
    try:
        _current.reset(token)
    except ValueError:
        _current.set(None)
