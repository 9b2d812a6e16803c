"""What the API serves with: the :class:`~agent.assistant.Assistant`, and its HTTP errors.

The Assistant (opened once per server by the app's lifespan) holds the record, the thread
store, the graph, the audit log and the model, with the locks that keep one model
generation at a time and one turn per thread.  This module only says how the
Assistant's refusals read as HTTP: a status, a ``kind`` and a message saying what to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.refusals import AssistantError, ThreadConflict, UnknownPatient

if TYPE_CHECKING:
    from agent.assistant import Assistant as AgentRuntime

__all__ = ["AgentRuntime", "ApiError", "api_error"]


def __getattr__(name: str) -> Any:
    """``AgentRuntime``: the Assistant, imported on use (it needs the ``agent`` extra)."""
    if name == "AgentRuntime":
        from agent.assistant import Assistant

        return Assistant
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ApiError(Exception):
    """A request the API refuses, with the HTTP status and a message saying what to do."""

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail


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
    return ApiError(400, error.kind, str(error))
