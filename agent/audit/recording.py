"""Auditing one question: collect its FHIR requests, then file them with the answer.

Used the same way by ``ask``, ``chat`` and the API::

    async with audited_question(log, "api", thread_id, patient_id, question) as turn:
        output = await ask(...)
        turn.answered(output)

Leaving the block without ``answered`` (an error, a cancelled chat answer) still files
the requests, under an answer row whose ``error`` names what happened.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.audit.log import AuditLog
from agent.audit.records import AnswerRecord
from agent.audit.scope import QuestionScope, enter, leave

if TYPE_CHECKING:  # annotations only: listing patients never builds an answer
    from agent.output import AgentOutput

__all__ = ["AuditedTurn", "audited_question"]

logger = logging.getLogger(__name__)


@dataclass
class AuditedTurn:
    """Handed to the caller inside :func:`audited_question` to report the answer."""

    output: AgentOutput | None = None
    error: str | None = None

    def answered(self, output: AgentOutput) -> None:
        self.output = output

    def failed(self, kind: str) -> None:
        """The turn ended without an answer; ``kind`` is an error class, never a message."""
        self.error = kind


def _answer_row(
    scope: QuestionScope,
    channel: str,
    caller: str,
    question: str,
    turn: AuditedTurn,
    error: str | None,
) -> AnswerRecord:
    output = turn.output
    return AnswerRecord(
        thread_id=scope.thread_id,
        patient_id=scope.patient_id,
        channel=channel,
        caller=caller,
        question=question,
        model=output.model if output is not None else "",
        fallback=output.fallback if output is not None else False,
        error=None if output is not None else (turn.error or error or "no answer"),
        total_seconds=output.timings.total_seconds if output is not None else 0.0,
        model_seconds=output.timings.model_seconds if output is not None else 0.0,
    )


@asynccontextmanager
async def audited_question(
    log: AuditLog | None,
    channel: str,
    thread_id: str,
    patient_id: str,
    question: str,
    *,
    caller: str = "",
) -> AsyncIterator[AuditedTurn]:
    """Collect the block's FHIR requests and file them with its answer; no-op without a log.

    ``caller`` is who asked (see :class:`agent.audit.records.AccessRecord`)."""
    turn = AuditedTurn()
    if log is None:
        yield turn
        return
    scope = QuestionScope(thread_id=thread_id, patient_id=patient_id)
    token = enter(scope)
    error: str | None = None
    try:
        yield turn
    except BaseException as exc:
        error = type(exc).__name__  # the type only: messages may quote the record
        raise
    finally:
        leave(token)
        row = _answer_row(scope, channel, caller, question, turn, error)
        import asyncio  # here: importing the audit package must not import asyncio

        try:
            await asyncio.shield(asyncio.to_thread(log.record, row, scope.requests, turn.output))
        except Exception:  # the answer must not fail because its audit row did
            logger.exception("could not write the audit log %s", log.path)
