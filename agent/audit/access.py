"""Auditing reads: one row per API request or CLI command, with the caller's identity.

The answer rows (:mod:`agent.audit.recording`) say what each question read; these rows say
who read which patient's record at all, including the patient list, summaries, ``/fhir``
and refused attempts.  Helpers here build a row's fields without ever copying record
contents, tokens or answers into it: paths keep their query's parameter names only.
"""

from __future__ import annotations

import getpass
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl

from agent.audit.log import AuditLog
from agent.audit.records import AccessRecord

__all__ = [
    "AccessNote",
    "audited_access",
    "cli_caller",
    "query_shape",
    "recorded_access",
    "store_access",
]

logger = logging.getLogger(__name__)


def cli_caller() -> str:
    """The CLI's caller: ``cli:<operating-system user>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, no LOGNAME (some containers)
        user = "unknown"
    return f"cli:{user}"


def query_shape(path: str, query_string: str = "") -> str:
    """``path`` with the query's parameter names but never their values."""
    names = sorted({name for name, _ in parse_qsl(query_string, keep_blank_values=True)})
    return f"{path}?{'&'.join(names)}" if names else path


def _status_of(error: BaseException) -> int:
    """The HTTP status a failure of this kind would have had (for CLI rows); a wrapped
    error (``raise CommandError(...) from cause``) counts as its cause."""
    import asyncio  # here, not above: a synchronous command's audit needs no event loop

    from agent.refusals import ThreadBusy, ThreadConflict, UnknownPatient
    from fhir_client.errors import FhirError, ResourceNotFound

    while error.__cause__ is not None and not isinstance(
        error, ResourceNotFound | UnknownPatient | ThreadConflict | ThreadBusy | FhirError
    ):
        error = error.__cause__

    if isinstance(error, ResourceNotFound | UnknownPatient):
        return 404
    if isinstance(error, ThreadConflict | ThreadBusy):
        return 409
    if isinstance(error, FhirError):
        return 502
    if isinstance(error, asyncio.CancelledError | KeyboardInterrupt):
        return 499  # the client went away (nginx's code for it)
    return 500


async def store_access(log: AuditLog | None, row: AccessRecord) -> None:
    """Write ``row`` off the event loop; a failed write is logged, never raised."""
    import asyncio

    if log is None:
        return
    try:
        await asyncio.shield(asyncio.to_thread(log.record_access, row))
    except Exception:  # the read must not fail because its audit row did
        logger.exception("could not write the audit log %s", log.path)


@dataclass
class AccessNote:
    """Filled in by the audited block when it learns more (a status, the patient)."""

    patient_id: str | None
    target: str
    status: int = 200
    thread_id: str | None = None


@asynccontextmanager
async def audited_access(
    log: AuditLog | None,
    *,
    caller: str,
    channel: str,
    action: str,
    target: str,
    patient_id: str | None = None,
    thread_id: str | None = None,
) -> AsyncIterator[AccessNote]:
    """Record one read when the block ends; an exception sets the status from its kind."""
    note = AccessNote(patient_id=patient_id, target=target, thread_id=thread_id)
    started = time.perf_counter()
    try:
        with _status_from_errors(note):
            yield note
    finally:
        await store_access(log, _access_row(note, caller, channel, action, started))


@contextmanager
def recorded_access(
    log: AuditLog | None, *, caller: str, channel: str, action: str, target: str
) -> Iterator[AccessNote]:
    """:func:`audited_access` for a synchronous command (``ehr-agent patients`` on the
    embedded store), which then needs no event loop; the row is written in this thread."""
    note = AccessNote(patient_id=None, target=target)
    started = time.perf_counter()
    try:
        with _status_from_errors(note):
            yield note
    finally:
        if log is not None:
            try:
                log.record_access(_access_row(note, caller, channel, action, started))
            except Exception:  # the read must not fail because its audit row did
                logger.exception("could not write the audit log %s", log.path)


@contextmanager
def _status_from_errors(note: AccessNote) -> Iterator[None]:
    """An exception leaving the audited block sets the row's status from its kind."""
    try:
        yield
    except BaseException as error:
        note.status = _status_of(error)
        raise


def _access_row(
    note: AccessNote, caller: str, channel: str, action: str, started: float
) -> AccessRecord:
    return AccessRecord(
        caller=caller,
        channel=channel,
        action=action,
        patient_id=note.patient_id,
        target=note.target,
        status=note.status,
        thread_id=note.thread_id,
        ms=(time.perf_counter() - started) * 1000,
    )
