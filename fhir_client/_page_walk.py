"""Following a search's pages over HTTP, with the walk's bounds: how many pages, a
next link seen twice (a looping server), a next link to another origin.

Why apart from :mod:`fhir_client.client`: a search, ``$everything`` and a caller that
streams pages all page the same way; the rules that keep that walk bounded and keep
credentials on the base URL's origin are written once here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Collection
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from fhir_client._paging import bundle_resources, next_link
from fhir_client._urls import relative_path, resolve_next_link
from fhir_client.errors import InvalidResponse, SearchTruncated

if TYPE_CHECKING:
    from fhir_client._transport import Transport

__all__ = ["collect", "pages"]

logger = logging.getLogger("fhir_client")


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
