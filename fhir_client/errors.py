"""Typed errors raised by the FHIR client.

Callers (the agent's tools, the CLI) need to tell "that resource does not exist" apart from
"the server is down" or "your credentials are wrong", and a user needs to read *why* the
server refused: FHIR servers explain that in an ``OperationOutcome``.  Every HTTP error
therefore carries the status, the parsed outcome and a short human ``diagnostics`` text,
and its ``str()`` names the request (method + path relative to the base URL, without the
query string, which may hold patient identifiers) so that a log line is actionable on its
own.  Headers are never part of an error: they may hold bearer tokens.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = [
    "AuthenticationFailed",
    "FhirConnectionError",
    "FhirError",
    "FhirHttpError",
    "InvalidRequest",
    "InvalidResponse",
    "RequestDeadlineExceeded",
    "ResourceNotFound",
    "ResponseTooLarge",
    "SearchTruncated",
    "ServerError",
    "TooManyRequests",
    "error_for_status",
    "outcome_diagnostics",
]

_SNIPPET_CHARS = 200
_TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")


class FhirError(Exception):
    """Base class for everything the FHIR client raises on purpose."""


class FhirHttpError(FhirError):
    """The server answered with an HTTP error status.

    ``outcome`` is the server's ``OperationOutcome`` (or ``None`` when the body was not
    one); ``diagnostics`` is the human text drawn from it, or a short snippet of the body.
    """

    default_hint: str = ""

    def __init__(
        self,
        status_code: int,
        *,
        method: str,
        path: str,
        outcome: dict[str, Any] | None = None,
        diagnostics: str = "",
        hint: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.method = method
        self.path = path
        self.outcome = outcome
        self.diagnostics = diagnostics
        self.hint = self.default_hint if hint is None else hint
        super().__init__(self._message())

    def _message(self) -> str:
        text = f"{self.method} {self.path} failed with HTTP {self.status_code}"
        if self.diagnostics:
            text += f": {self.diagnostics}"
        if self.hint:
            text += f". {self.hint}"
        return text


class ResourceNotFound(FhirHttpError):
    """404 Not Found or 410 Gone: the resource does not exist (or was deleted)."""

    default_hint = "Check the resource type and id; the resource may not exist or was deleted"


class InvalidRequest(FhirHttpError):
    """400 Bad Request or 422 Unprocessable Entity: the server rejected the request."""

    default_hint = "Fix the request (search parameters or resource content) as the server says"


class AuthenticationFailed(FhirHttpError):
    """401/403 from the FHIR server, or any failure at the OAuth token endpoint."""

    default_hint = (
        "Check the access token or the client credentials (client id, key, scope) "
        "and that they grant access to this server"
    )


class ServerError(FhirHttpError):
    """5xx still failing after the client's retries."""

    default_hint = "The FHIR server failed; try again later or check the server's logs"


class TooManyRequests(FhirHttpError):
    """429 still returned after the client's retries (or a Retry-After beyond our cap)."""

    default_hint = "The server is rate limiting this client; wait and retry, or lower concurrency"


class FhirConnectionError(FhirError):
    """The server could not be reached (connect failure, timeout) even after retries."""


class InvalidResponse(FhirError):
    """A 2xx answer that is not usable FHIR JSON (e.g. an HTML page from a proxy)."""


class ResponseTooLarge(InvalidResponse):
    """A response body passed ``MAX_RESPONSE_BYTES``; it was cut off, never read whole."""


class RequestDeadlineExceeded(FhirConnectionError):
    """No complete response within the request's total deadline, retries included."""


class SearchTruncated(FhirError):
    """A search had more pages than the page bound allowed.

    Returning a partial list silently would let a clinical answer miss data (e.g. the one
    abnormal lab on page 21), so ``search`` raises this instead; the pages fetched so far
    are kept in ``resources`` for callers that can live with a partial result.
    """

    def __init__(self, what: str, *, resources: list[dict[str, Any]], pages_fetched: int) -> None:
        self.resources = resources
        self.pages_fetched = pages_fetched
        super().__init__(
            f"{what} has more results than {pages_fetched} page(s) "
            f"({len(resources)} resources fetched so far). Narrow the search (for example "
            "with date or code parameters), raise max_pages, or pass max_results to accept "
            "a partial result"
        )


def outcome_diagnostics(outcome: dict[str, Any]) -> str:
    """Join the human-readable text of an OperationOutcome's issues.

    Servers put the useful sentence in ``issue[].diagnostics`` or ``issue[].details.text``
    (sometimes only in a coding's ``display``); we take the first that exists per issue.
    """
    texts: list[str] = []
    issues = outcome.get("issue")
    if not isinstance(issues, list):
        return ""
    for issue in issues:
        if not isinstance(issue, dict):
            continue
        text = issue.get("diagnostics")
        details = issue.get("details")
        if not text and isinstance(details, dict):
            text = details.get("text")
            codings = details.get("coding")
            if not text and isinstance(codings, list):
                text = next(
                    (c.get("display") for c in codings if isinstance(c, dict) and c.get("display")),
                    None,
                )
        if not text:
            text = issue.get("code")
        if isinstance(text, str) and text.strip() and text.strip() not in texts:
            texts.append(text.strip())
    return "; ".join(texts)


def body_snippet(body: bytes) -> str:
    """A short, single-line text excerpt of a body (HTML tags stripped)."""
    text = body.decode("utf-8", errors="replace")
    text = _SPACE.sub(" ", _TAG.sub(" ", text)).strip()
    if len(text) > _SNIPPET_CHARS:
        text = text[:_SNIPPET_CHARS].rstrip() + "..."
    return text


def parse_outcome(body: bytes) -> dict[str, Any] | None:
    """Return the body as an OperationOutcome dict, or ``None`` if it is not one."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # a hostile error body nested 100,000 deep
        return None
    if isinstance(data, dict) and data.get("resourceType") == "OperationOutcome":
        return data
    return None


def error_for_status(
    status_code: int, *, method: str, path: str, body: bytes, hint: str | None = None
) -> FhirHttpError:
    """Build the typed error for an HTTP error response."""
    outcome = parse_outcome(body)
    diagnostics = outcome_diagnostics(outcome) if outcome is not None else ""
    if not diagnostics:
        diagnostics = body_snippet(body)
    cls: type[FhirHttpError]
    if status_code in (404, 410):
        cls = ResourceNotFound
    elif status_code in (400, 422):
        cls = InvalidRequest
    elif status_code in (401, 403):
        cls = AuthenticationFailed
    elif status_code == 429:
        cls = TooManyRequests
    elif status_code >= 500:
        cls = ServerError
    else:
        cls = FhirHttpError
    return cls(
        status_code,
        method=method,
        path=path,
        outcome=outcome,
        diagnostics=diagnostics,
        hint=hint,
    )
