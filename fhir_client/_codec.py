"""Turning Python values into FHIR request parts and FHIR responses into dicts.

Responses stay plain JSON dicts (no pydantic validation: far too slow for whole records),
but every body is checked to be a FHIR resource of the expected type, so an HTML login
page or a proxy's JSON error never reaches the tools disguised as data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from fhir_client.errors import InvalidResponse, body_snippet

SearchParams = Mapping[str, str | Sequence[str]]
Resource = dict[str, Any]


def build_query(
    params: SearchParams | None,
    *,
    page_size: int | None,
    add_count: bool = True,
    max_results: int | None = None,
) -> list[tuple[str, str]]:
    """Turn search params into query pairs; a sequence value repeats the parameter (AND).

    ``_count`` is added when the caller did not set one: ``page_size``, or ``max_results``
    if smaller (no point fetching 100 rows to keep 5).
    """
    pairs: list[tuple[str, str]] = []
    for name, value in (params or {}).items():
        values = [value] if isinstance(value, str | int) else value
        for item in values:
            if not isinstance(item, str | int) or isinstance(item, bool):
                raise TypeError(
                    f"search parameter {name!r} has a {type(item).__name__} value; "
                    "use a string or a list of strings"
                )
            pairs.append((name, str(item)))
    if add_count and not any(name == "_count" for name, _ in pairs):
        page = page_size
        if max_results is not None:
            page = min(page, max_results) if page is not None else max_results
        if page is not None:
            pairs.append(("_count", str(page)))
    return pairs


def parse_resource(
    response: httpx.Response, method: str, path: str, expect: str | None
) -> Resource:
    """Decode a 2xx body as a FHIR resource, checking its resourceType."""
    try:
        data = json.loads(response.content)
    except ValueError:
        content_type = response.headers.get("Content-Type", "none")
        raise InvalidResponse(
            f"{method} {path} returned HTTP {response.status_code} with a body that is not "
            f"JSON (Content-Type: {content_type}): {body_snippet(response.content)!r}. "
            "Check that the base URL points at the FHIR API, not a web page or a proxy"
        ) from None
    found = data.get("resourceType") if isinstance(data, dict) else None
    if not isinstance(found, str):
        raise InvalidResponse(
            f"{method} {path} returned JSON that is not a FHIR resource (no resourceType); "
            "check that the base URL points at a FHIR R4 server"
        )
    if expect is not None and found != expect:
        raise InvalidResponse(
            f"{method} {path} returned a {found} where a {expect} was expected; "
            "check that the base URL points at a FHIR R4 server"
        )
    result: Resource = data
    return result


def dump_resource(resource: Resource) -> bytes:
    """Serialise a resource as compact UTF-8 JSON."""
    return json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
