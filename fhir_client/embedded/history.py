"""Versions as HTTP sees them: vread, instance ``_history``, ETag and Last-Modified.

The store keeps one version of each resource (a reload replaces it and bumps
``meta.versionId``), so ``_history`` is that one version and a vread of any other
version is a 404 that says which one is kept. Reads carry ``ETag: W/"<version>"`` and
``Last-Modified``, and answer ``If-None-Match`` / ``If-Modified-Since`` with a 304, so a
client can cache the record and revalidate it cheaply.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import Response

from fhir_client.embedded.dates import format_instant
from fhir_client.embedded.store import EmbeddedStore


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
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return _instant(stored).replace(microsecond=0) <= since
    return False


def not_modified_response(stored: StoredVersion) -> Response:
    """A 304 with the version's validators and no body."""
    return Response(status_code=304, headers=version_headers(stored))


def history_bundle(base: str, resource_type: str, resource_id: str, stored: StoredVersion) -> str:
    """An R4 ``history`` Bundle holding the one stored version, as JSON text."""
    full_url = f"{base}/{resource_type}/{resource_id}"
    head: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": format_instant(datetime.now(UTC))},
        "type": "history",
        "total": 1,
        "link": [{"relation": "self", "url": f"{full_url}/_history"}],
    }
    entry_tail = json.dumps(
        {
            "request": {"method": "PUT", "url": f"{resource_type}/{resource_id}"},
            "response": {
                "status": "200 OK" if stored.version > 1 else "201 Created",
                "etag": etag(stored.version),
                "lastModified": stored.last_updated,
            },
        }
    )[1:-1]
    entry = f'{{"fullUrl":{json.dumps(full_url)},"resource":{stored.text},{entry_tail}}}'
    return json.dumps(head, ensure_ascii=False)[:-1] + f',"entry":[{entry}]}}'


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
