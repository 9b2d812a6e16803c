"""What the API serves with: the :class:`~agent.assistant.Assistant`, and its HTTP errors.

The Assistant (opened once per server process by the app's lifespan) holds the record, the
thread store, the graph, the audit log and the model, with the model lock that keeps one
generation at a time per process.  Thread ownership and the order of a thread's turns are
held in the database by :mod:`agent.threads` (through the Assistant), so they hold across
``serve --workers N``.  This module only says how the Assistant's refusals read as HTTP (a
status, a ``kind`` and a message saying what to do), and what ``/health`` may say about
the model and the record without naming paths or URLs.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING

from agent.refusals import AssistantError, ThreadBusy, ThreadConflict, UnknownPatient

if TYPE_CHECKING:  # not at run time: the FHIR facade of the core install imports this
    from agent.assistant import Assistant

__all__ = ["ApiError", "api_error", "public_model_name", "public_source"]


class ApiError(Exception):
    """A request the API refuses, with the HTTP status and a message saying what to do."""

    def __init__(
        self, status: int, kind: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.headers = headers or {}  # e.g. the 401's WWW-Authenticate challenge


def api_error(error: AssistantError) -> ApiError:
    """The HTTP form of an Assistant refusal, with the API's own hint."""
    if isinstance(error, UnknownPatient):
        return ApiError(404, error.kind, f"{error}; GET /patients lists the ids.")
    if isinstance(error, ThreadConflict):
        return ApiError(
            409,
            error.kind,
            f"{error}; omit thread_id to start a new conversation for this one.",
        )
    if isinstance(error, ThreadBusy):
        return ApiError(409, error.kind, f"{error}.")
    return ApiError(400, error.kind, str(error))


def public_model_name(runtime: Assistant) -> str:
    """The model's kind without paths or URLs (they name the server's disk or network)."""
    name = runtime.model_name
    if name.startswith("openai:"):
        return "openai" + (f"#{name.rsplit('#', 1)[1]}" if "#" in name else "")
    return PurePath(name).name


def public_source(runtime: Assistant) -> str:
    """Which kind of record answers (``/health`` must not name the server's URL or path)."""
    return "embedded store" if runtime.store is not None else "FHIR server"
