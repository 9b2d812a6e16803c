"""Following a search's pages: the next-page link, the resources a search matched,
and the walk over pages with its bounds (page count, looping links, other origins).

Why apart from :mod:`fhir_client.client`: a search, ``$everything`` and a caller that
streams pages all page the same way; the rules that keep that walk bounded and keep
credentials on the base URL's origin are written once here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Collection
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from fhir_client._urls import relative_path, resolve_next_link
from fhir_client.errors import InvalidResponse, SearchTruncated, outcome_diagnostics

if TYPE_CHECKING:
    from fhir_client._transport import Transport

logger = logging.getLogger("fhir_client")

# Entries a search returns that are not matches: `_include`d resources and warnings.
NON_MATCH_MODES = frozenset({"include", "outcome"})


def next_link(bundle: dict[str, Any]) -> str | None:
    """The Bundle's ``link[relation=next].url``, or ``None`` on the last page."""
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            if isinstance(url, str) and url.strip():
                return url
    return None


def bundle_resources(
    bundle: dict[str, Any], *, exclude_modes: Collection[str] = NON_MATCH_MODES
) -> list[dict[str, Any]]:
    """The entry resources of a Bundle, minus entries whose ``search.mode`` is excluded.

    Entries without a ``search.mode`` count as matches (many servers omit it).  Outcome
    entries are server warnings about the search itself; they are logged at debug level
    rather than mixed into the patient's data.
    """
    resources: list[dict[str, Any]] = []
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return resources
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        resource = entry.get("resource")
        search = entry.get("search")
        mode = search.get("mode") if isinstance(search, dict) else None
        if isinstance(resource, dict) and (
            mode == "outcome" or resource.get("resourceType") == "OperationOutcome"
        ):
            logger.debug("search outcome: %s", outcome_diagnostics(resource))
        if mode in exclude_modes or not isinstance(resource, dict):
            continue
        resources.append(resource)
    return resources


async def pages(
    transport: Transport, url: str, query: list[tuple[str, str]], limit: int
) -> AsyncGenerator[dict[str, Any], None]:
    """Yield up to ``limit`` Bundles, following same-origin next links."""
    path = relative_path(transport.base_url, url)
    bundle = await transport.get(url, "Bundle", params=query)
    yield bundle
    seen: set[str] = set()
    for _ in range(limit - 1):
        link = next_link(bundle)
        if link is None:
            return
        url = _resolve_next(transport.base_url, link)
        if url in seen:
            raise InvalidResponse(
                f"Search {path}: the server returned the same next-page link twice; "
                "it is looping, so paging was stopped"
            )
        seen.add(url)
        bundle = await transport.get(url, "Bundle")
        yield bundle


async def collect(
    transport: Transport,
    url: str,
    query: list[tuple[str, str]],
    *,
    what: str,
    limit: int,
    max_results: int | None,
    exclude_modes: Collection[str],
) -> list[dict[str, Any]]:
    """The matches of up to ``limit`` pages (at most ``max_results`` of them).

    When pages remain after ``limit`` and no ``max_results`` was asked for, raises
    ``SearchTruncated`` carrying what was fetched rather than returning partial data.
    """
    resources: list[dict[str, Any]] = []
    fetched = 0
    last: dict[str, Any] = {}
    async with aclosing(pages(transport, url, query, limit)) as bundles:
        async for bundle in bundles:
            fetched += 1
            last = bundle
            resources.extend(bundle_resources(bundle, exclude_modes=exclude_modes))
            if max_results is not None and len(resources) >= max_results:
                return resources[:max_results]
    if next_link(last) is not None:
        if max_results is None:
            raise SearchTruncated(what, resources=resources, pages_fetched=fetched)
        logger.warning(
            "%s: stopped after %d pages with %d of up to %d results; more pages remain",
            what,
            fetched,
            len(resources),
            max_results,
        )
    return resources


def _resolve_next(base_url: str, link: str) -> str:
    try:
        return resolve_next_link(base_url, link)
    except ValueError as exc:
        raise InvalidResponse(
            f"The server's next-page link points to another origin ({exc}) than the base "
            f"URL {base_url}; it was not followed so that credentials are not sent "
            "there. Check the server's base URL configuration (e.g. HAPI's server address)"
        ) from None
