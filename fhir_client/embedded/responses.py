"""FHIR JSON responses: OperationOutcome errors and searchset Bundles.

Searchset Bundles are assembled as text around the stored JSON of each match,
so a search never parses and re-encodes resources; that keeps a patient-scoped
search in the low milliseconds.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from fhir_client.embedded.dates import format_instant

FHIR_JSON = "application/fhir+json; charset=utf-8"


def fhir_response(
    body: dict[str, Any] | str,
    status: int = 200,
    *,
    extra_headers: Mapping[str, str] | None = None,
    **headers: str,
) -> Response:
    """A response with the FHIR JSON media type."""
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    merged = {**headers, **(extra_headers or {})}
    return Response(text, status_code=status, media_type=FHIR_JSON, headers=merged or None)


def outcome(diagnostics: str, code: str = "invalid", severity: str = "error") -> dict[str, Any]:
    """An OperationOutcome with one issue."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


def error_response(status: int, diagnostics: str, code: str = "invalid") -> Response:
    """An OperationOutcome response; `diagnostics` must tell the user what to change."""
    return fhir_response(outcome(diagnostics, code), status)


def page_links(
    base: str,
    path: str,
    items: Sequence[tuple[str, str]],
    *,
    count: int,
    offset: int,
    returned: int,
    total: int | None,
) -> list[dict[str, str]]:
    """self/next/previous links that repeat the search with another `_offset`.

    `base` is the request's own base URL (including any mount prefix such as
    `/fhir`), so the links work wherever the app is mounted.
    """
    kept = [(k, v) for k, v in items if k not in ("_offset", "_count")]

    def url(at: int) -> str:
        query = urlencode([*kept, ("_count", str(count)), ("_offset", str(at))])
        return f"{base}/{path}?{query}"

    links = [{"relation": "self", "url": url(offset)}]
    has_more = offset + returned < total if total is not None else returned == count
    if returned and has_more:
        links.append({"relation": "next", "url": url(offset + count)})
    if offset > 0:
        links.append({"relation": "previous", "url": url(max(0, offset - count))})
    return links


def searchset(
    base: str,
    rows: Sequence[tuple[str, str, str]],
    total: int | None,
    links: list[dict[str, str]],
    *,
    included: Sequence[tuple[str, str, str]] = (),
    outcome: dict[str, Any] | None = None,
) -> str:
    """A searchset Bundle as JSON text, embedding each stored resource verbatim.

    ``included`` rows (from ``_include``/``_revinclude``) follow the matches with
    ``search.mode = include``; an ``outcome`` (a warning about the page) comes last.
    """
    head: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": format_instant(datetime.now(UTC))},
        "type": "searchset",
    }
    if total is not None:
        head["total"] = total
    head["link"] = links
    prefix = json.dumps(head, ensure_ascii=False)[:-1]
    entries = [
        f'{{"fullUrl":{json.dumps(f"{base}/{rtype}/{rid}")},"resource":{text},'
        f'"search":{{"mode":"{mode}"}}}}'
        for mode, group in (("match", rows), ("include", included))
        for rtype, rid, text in group
    ]
    if outcome is not None:
        warning = json.dumps(outcome, ensure_ascii=False)
        entries.append(f'{{"resource":{warning},"search":{{"mode":"outcome"}}}}')
    return f'{prefix},"entry":[{",".join(entries)}]}}' if entries else prefix + "}"
