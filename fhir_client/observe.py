"""Watching the client's requests from outside: one typed record per request, after it ends.

Why a hook here rather than an httpx event hook or a wrapping transport: only the client
knows a request's result count (it parses the body anyway) and it already strips the base
URL from paths.  Observers get no headers and no body, so credentials and record contents
cannot leak through them; an audit log or a metrics exporter builds on this without the
client knowing either exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fhir_client._paging import NON_MATCH_MODES

__all__ = ["RequestObservation", "RequestObserver", "result_count"]


@dataclass(frozen=True)
class RequestObservation:
    """One finished request: ``path`` is relative to the base, with its query string.

    ``status`` is 0 when no HTTP answer arrived (connection failure); ``result_count`` is
    ``None`` when the request failed or its body was not parsed.
    """

    method: str
    path: str
    status: int
    elapsed_ms: float
    result_count: int | None


RequestObserver = Callable[[RequestObservation], None]
"""Called synchronously once per request; it must be quick and should not raise."""


def result_count(resource: dict[str, Any]) -> int:
    """Matches in a search Bundle (entries, else ``total`` for ``_summary=count``); 1 otherwise."""
    if resource.get("resourceType") != "Bundle":
        return 1
    entries = resource.get("entry")
    if isinstance(entries, list):
        return sum(
            1
            for entry in entries
            if isinstance(entry, dict)
            and (entry.get("search") or {}).get("mode") not in NON_MATCH_MODES
        )
    total = resource.get("total")
    return total if isinstance(total, int) and not isinstance(total, bool) else 0
