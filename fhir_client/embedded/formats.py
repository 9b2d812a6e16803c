"""Content negotiation: the facade speaks FHIR JSON only, and says so with a 406.

A client that asks for XML or Turtle (``_format=xml``, ``Accept: application/fhir+xml``)
must not get JSON it will fail to parse as XML; R4 says a server that cannot serve the
requested format answers 406 Not Acceptable. ``_format`` wins over Accept, as R4 says.
Browsers' ``*/*`` and plain ``application/json`` are served.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from fhir_client.embedded.responses import error_response

#: `_format` values meaning FHIR JSON (R4 3.1.0.1.9 lists json and the MIME types).
JSON_FORMATS = frozenset(
    {"json", "application/json", "application/fhir+json", "application/json+fhir", "text/json"}
)
#: Accept media ranges a JSON body satisfies.
JSON_MEDIA_RANGES = frozenset(
    {"*/*", "application/*", "application/json", "application/fhir+json", "application/json+fhir"}
)


def _media_ranges(accept: str) -> list[str]:
    """The media ranges of an Accept header, without parameters; q=0 ranges dropped."""
    ranges = []
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if not media:
            continue
        if any(p.replace(" ", "").lower() in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params):
            continue
        ranges.append(media.lower())
    return ranges


def unacceptable(query_string: str, headers: Headers) -> str | None:
    """Why this request cannot be answered in JSON, or None when it can."""
    formats = [v for k, v in parse_qsl(query_string, keep_blank_values=True) if k == "_format"]
    if formats:
        bad = [f for f in formats if f.split(";")[0].strip().lower() not in JSON_FORMATS]
        if bad:
            return (
                f"_format={bad[0]} is not served here: this server speaks FHIR JSON only; "
                "use _format=json or leave _format out"
            )
        return None
    accept = headers.get("accept")
    if accept is None or not accept.strip():
        return None
    ranges = _media_ranges(accept)
    if any(media in JSON_MEDIA_RANGES for media in ranges):
        return None
    return (
        f"Accept: {accept} is not served here: this server speaks FHIR JSON only; "
        "send Accept: application/fhir+json"
    )


class JsonOnly:
    """Answer 406 (an OperationOutcome, in JSON) to requests for any other format."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = scope.get("query_string", b"").decode("latin-1")
            problem = unacceptable(query, Headers(scope=scope))
            if problem is not None:
                await error_response(406, problem, "not-supported")(scope, receive, send)
                return
        await self.app(scope, receive, send)
