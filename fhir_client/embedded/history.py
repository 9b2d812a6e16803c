"""Versions as HTTP sees them: vread, ``_history``, ETag and Last-Modified.

The store keeps one version of each resource (a reload replaces it and bumps
``meta.versionId``), so an instance ``_history`` is that one version, a type or system
``_history`` is the stored version of every resource (newest first, paged like a
search, ``_since`` as a lower bound on ``meta.lastUpdated``), and a vread of any other
version is a 404 that says which one is kept. Reads carry ``ETag: W/"<version>"`` and
``Last-Modified``, and answer ``If-None-Match`` / ``If-Modified-Since`` with a 304, so a
client can cache the record and revalidate it cheaply.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import Response

from fhir_client.embedded.dates import format_instant, parse_date
from fhir_client.embedded.errors import SearchError
from fhir_client.embedded.query import DEFAULT_COUNT, MAX_COUNT
from fhir_client.embedded.responses import page_links
from fhir_client.embedded.store import EmbeddedStore
from fhir_client.http_dates import parse_http_date
from fhir_client.limits import MAX_PAGE_OFFSET


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """A resource's stored version: number, ``meta.lastUpdated`` instant and JSON text."""

    version: int
    last_updated: str
    text: str


def stored_version(
    store: EmbeddedStore, resource_type: str, resource_id: str
) -> StoredVersion | None:
    """The version the store keeps of a resource, or None if it holds none."""
    found = store.read_version(resource_type, resource_id)
    return StoredVersion(*found) if found is not None else None


def etag(version: int) -> str:
    """The weak ETag FHIR uses for a version (``W/"3"``)."""
    return f'W/"{version}"'


def _instant(stored: StoredVersion) -> datetime:
    return datetime.fromisoformat(stored.last_updated.replace("Z", "+00:00")).astimezone(UTC)


def version_headers(stored: StoredVersion) -> dict[str, str]:
    """ETag and Last-Modified of the stored version."""
    return {
        "ETag": etag(stored.version),
        "Last-Modified": format_datetime(_instant(stored), usegmt=True),
    }


def _tags(value: str) -> list[str]:
    """The entity tags of an If-None-Match list, weak or strong, quotes removed."""
    return [tag.strip().removeprefix("W/").strip('"') for tag in value.split(",") if tag.strip()]


def not_modified(stored: StoredVersion, headers: Headers) -> bool:
    """True when the client's conditional headers say it already has this version.

    If-None-Match wins over If-Modified-Since, as RFC 9110 says; an unparseable date is
    ignored (the full resource is sent), never an error.
    """
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = _tags(if_none_match)
        return "*" in tags or str(stored.version) in tags
    if_modified_since = headers.get("if-modified-since")
    if if_modified_since:
        since = parse_http_date(if_modified_since)
        if since is None:
            return False
        return _instant(stored).replace(microsecond=0) <= since
    return False


def not_modified_response(stored: StoredVersion) -> Response:
    """A 304 with the version's validators and no body."""
    return Response(status_code=304, headers=version_headers(stored))


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """A parsed ``_history`` request: page size, offset and the ``_since`` bound."""

    count: int
    offset: int
    since: str | None


def parse_history(items: Sequence[tuple[str, str]]) -> HistoryQuery:
    """``_count``, ``_offset`` and ``_since`` of a ``_history`` request; SearchError otherwise.

    ``_since`` is an instant in R4; a date or dateTime is taken from its start, as HAPI
    does. ``_at`` and ``_list`` ask for versions this store does not keep or lists it does
    not hold, so they are refused by name rather than ignored.
    """
    count, offset, since = DEFAULT_COUNT, 0, None
    for name, value in items:
        if name == "_count":
            count = _bounded_int(name, value, MAX_COUNT)
        elif name == "_offset":
            offset = _bounded_int(name, value, None)
            if offset > MAX_PAGE_OFFSET:
                raise SearchError(f"_offset must be 0 to {MAX_PAGE_OFFSET}, got {offset}")
        elif name == "_since":
            try:
                low_ms = parse_date(value, as_point=True).low_ms
            except ValueError as exc:
                raise SearchError(
                    f"_since must be a FHIR instant such as 2024-01-31T00:00:00Z: {exc}"
                ) from None
            since = format_instant(datetime.fromtimestamp(low_ms / 1000, UTC))
        elif name != "_format":
            raise SearchError(
                f"_history does not support {name!r}; supported: _count, _offset, _since "
                "(this server keeps one version per resource, so _at has nothing to choose from)"
            )
    return HistoryQuery(count, offset, since)


def _bounded_int(name: str, raw: str, high: int | None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SearchError(f"{name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise SearchError(f"{name} must be >= 0, got {value}")
    return value if high is None else min(value, high)


def history_bundle(
    base: str,
    path: str,
    items: Sequence[tuple[str, str]],
    query: HistoryQuery,
    rows: Sequence[tuple[str, str, int, str, str]],
    total: int,
) -> str:
    """An R4 ``history`` Bundle of stored versions (newest first), as JSON text.

    ``path`` is what was asked (``_history``, ``Observation/_history``, ``Patient/1/_history``);
    the self/next/previous links repeat it with another ``_offset``.
    """
    links = page_links(
        base,
        path,
        items,
        count=query.count,
        offset=query.offset,
        returned=len(rows),
        total=total,
    )
    head: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": format_instant(datetime.now(UTC))},
        "type": "history",
        "total": total,
        "link": links,
    }
    entries = []
    for rtype, rid, version, last_updated, text in rows:
        tail = json.dumps(
            {
                "request": {"method": "PUT", "url": f"{rtype}/{rid}"},
                "response": {
                    "status": "200 OK" if version > 1 else "201 Created",
                    "etag": etag(version),
                    "lastModified": last_updated,
                },
            }
        )[1:-1]
        full_url = json.dumps(f"{base}/{rtype}/{rid}")
        entries.append(f'{{"fullUrl":{full_url},"resource":{text},{tail}}}')
    prefix = json.dumps(head, ensure_ascii=False)[:-1]
    return f'{prefix},"entry":[{",".join(entries)}]}}' if entries else prefix + "}"


def unknown_version_message(
    resource_type: str, resource_id: str, asked: str, stored: StoredVersion | None
) -> str:
    """What a 404 vread says: which version the store keeps, if any."""
    if stored is None:
        return f"{resource_type}/{resource_id} is not known to this server"
    return (
        f"{resource_type}/{resource_id} has no version {asked!r} here: this server keeps only "
        f"the current version, {stored.version} (GET {resource_type}/{resource_id}"
        f"/_history/{stored.version})"
    )
