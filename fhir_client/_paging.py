"""Reading searchset Bundles: the next-page link and the resources a search matched.

Light on purpose (no httpx): the embedded store's patient list reads Bundles with it
without importing the HTTP client (``ehr-agent patients`` start-up, ``bench/startup.py``).
Following the pages over HTTP is :mod:`fhir_client._page_walk`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from fhir_client.errors import outcome_diagnostics

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
