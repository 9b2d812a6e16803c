"""One async client for any FHIR R4 server (HAPI, Medplum, Epic/Cerner sandboxes, ...).

Resources are handled as plain JSON dicts: validating every Observation of a large record
with pydantic models is far too slow for an interactive assistant, and the tools only need
a few fields.  The client's job is the transport: building safe URLs, following search
pages, retrying transient failures, and turning server refusals into typed errors that
say what went wrong.

This module is the client's public face: what each method asks a FHIR server. How one
request travels (retries, body checks, observers) is :mod:`fhir_client._transport`;
how a search's pages are followed and bounded is :mod:`fhir_client._page_walk`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from types import TracebackType
from typing import IO, Self

import httpx

from fhir_client import limits
from fhir_client._codec import (
    Resource,
    SearchParams,
    build_query,
    dump_resource,
)
from fhir_client._page_walk import collect, pages
from fhir_client._paging import NON_MATCH_MODES
from fhir_client._retry import FHIR_JSON, RetryPolicy, SleepFn
from fhir_client._transport import Transport
from fhir_client._urls import check_resource_id, check_resource_type, normalise_base_url
from fhir_client.errors import InvalidResponse
from fhir_client.limits import MAX_RESPONSE_BYTES, REQUEST_DEADLINE_SECONDS
from fhir_client.observe import RequestObserver

__all__ = ["FHIR_JSON", "FhirClient", "SearchParams", "logger"]

logger = logging.getLogger("fhir_client")

_BODY_CHUNK_BYTES = 1024 * 1024  # read size when streaming a spooled request body


class FhirClient:
    """Async FHIR R4 REST client; use as ``async with FhirClient(url) as fhir: ...``.

    ``max_retries`` counts retries after the first attempt.  ``max_pages`` bounds how many
    search pages ``search``/``everything`` follow; ``page_size`` adds ``_count`` to searches
    that do not set it. ``timeout`` is httpx's per-operation timeout; ``deadline_seconds``
    bounds one request as a whole (retries and a trickling body included) and
    ``max_response_bytes`` one response body (see :mod:`fhir_client.limits`).  ``sleep``
    is how the client waits between retries; tests inject a recorder so they run
    instantly and can assert the waits requested.

    ``own_store=True`` is for the in-process embedded store only (``embedded_client``,
    ``off_loop_client``): it skips the nesting check on responses. That check costs about
    half a parse and was a third of the CPU of reading a lifetime record; the embedded
    store refuses JSON nested deeper than ``MAX_JSON_DEPTH`` when it writes
    (``validate_resource``), so what it serves was checked once already. Every other
    server's responses are checked, because nothing vouches for them.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff_seconds: float = 0.5,
        max_pages: int = 20,
        page_size: int | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: SleepFn | None = None,
        deadline_seconds: float = REQUEST_DEADLINE_SECONDS,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        own_store: bool = False,
    ) -> None:
        if max_pages < 1:
            raise ValueError(f"max_pages must be at least 1, got {max_pages}")
        if page_size is not None and page_size < 1:
            raise ValueError(f"page_size must be at least 1 (or None), got {page_size}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.retry_policy = RetryPolicy(
            max_retries=max_retries,
            backoff_seconds=backoff_seconds,
            sleep=sleep if sleep is not None else asyncio.sleep,
            deadline_seconds=deadline_seconds,
            max_response_bytes=max_response_bytes,
        )
        self._base_url = normalise_base_url(base_url)
        self.max_pages = max_pages
        self.page_size = page_size
        default_headers = {"Accept": FHIR_JSON}
        default_headers.update(headers or {})
        http = httpx.AsyncClient(
            auth=auth,
            transport=transport,
            timeout=httpx.Timeout(timeout),
            headers=default_headers,
            # A redirect could lead to another host with our Authorization header attached.
            follow_redirects=False,
        )
        self._transport = Transport(
            http, self._base_url, self.retry_policy, check_nesting=not own_store
        )

    @property
    def base_url(self) -> str:
        """The server's base URL, without a trailing slash."""
        return self._base_url

    def __repr__(self) -> str:
        return f"FhirClient({self._base_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def add_observer(self, observer: RequestObserver) -> None:
        """Call ``observer`` after every request (see :mod:`fhir_client.observe`)."""
        self._transport.add_observer(observer)

    def remove_observer(self, observer: RequestObserver) -> None:
        """Stop calling ``observer``; unknown observers are ignored."""
        self._transport.remove_observer(observer)

    async def aclose(self) -> None:
        """Close the underlying connection pool."""
        await self._transport.http.aclose()

    # ----------------------------------------------------------------- public API

    async def read(self, resource_type: str, resource_id: str) -> Resource:
        """``GET [base]/Type/id``: one resource, or ``ResourceNotFound``."""
        path = f"{check_resource_type(resource_type)}/{check_resource_id(resource_id)}"
        return await self._get(path, resource_type)

    async def capabilities(self) -> Resource:
        """``GET [base]/metadata``: the server's CapabilityStatement."""
        return await self._get("metadata", "CapabilityStatement")

    async def search_bundle(
        self, resource_type: str, params: SearchParams | None = None
    ) -> Resource:
        """The first page of a search, as the server's Bundle."""
        path = check_resource_type(resource_type)
        return await self._get(path, "Bundle", self._query(params))

    async def search_page_iter(
        self,
        resource_type: str,
        params: SearchParams | None = None,
        *,
        max_pages: int | None = None,
    ) -> AsyncGenerator[Resource, None]:
        """Yield the search's Bundles page by page, at most ``max_pages`` of them.

        For callers that want to stream or decide themselves when to stop; after the last
        yielded Bundle, ``next_link(bundle)`` tells whether the server had more.
        """
        url = self._url(check_resource_type(resource_type))
        limit = self._page_limit(max_pages)
        async with aclosing(pages(self._transport, url, self._query(params), limit)) as bundles:
            async for bundle in bundles:
                yield bundle

    async def search(
        self,
        resource_type: str,
        params: SearchParams | None = None,
        *,
        max_pages: int | None = None,
        max_results: int | None = None,
    ) -> list[Resource]:
        """Run a search and return the matching resources across pages.

        ``_include``d resources and OperationOutcome entries are left out.  A sequence value
        repeats the parameter (AND); commas inside a value are passed on (OR).  If more
        pages remain after ``max_pages`` and no ``max_results`` was given, raises
        ``SearchTruncated`` (carrying what was fetched) rather than returning partial data.
        """
        if max_results is not None and max_results < 1:
            raise ValueError(f"max_results must be at least 1 (or None), got {max_results}")
        url = self._url(check_resource_type(resource_type))
        query = self._query(params, max_results=max_results)
        return await collect(
            self._transport,
            url,
            query,
            what=f"Search {resource_type}",
            limit=self._page_limit(max_pages),
            max_results=max_results,
            exclude_modes=NON_MATCH_MODES,
        )

    async def count(self, resource_type: str, params: SearchParams | None = None) -> int:
        """How many resources match a search (``_summary=count``; reads ``Bundle.total``)."""
        path = check_resource_type(resource_type)
        query = self._query(params, add_count=False)
        query = [(k, v) for k, v in query if k != "_summary"] + [("_summary", "count")]
        bundle = await self._get(path, "Bundle", query)
        total = bundle.get("total")
        if not isinstance(total, int) or isinstance(total, bool):
            raise InvalidResponse(
                f"GET {path} with _summary=count returned a Bundle without a numeric total; "
                "this server does not support counting, use search() instead"
            )
        return total

    async def latest_history(self) -> Resource:
        """``GET [base]/_history?_count=1``: the server's newest write as a history Bundle.

        History lists newest first (FHIR R4 3.1.0.12.1) and records deletions too, so this
        entry changes with every create, update or delete on the server; callers keep
        what they read keyed by it (``agent.record_cache``).
        """
        return await self._get("_history", "Bundle", [("_count", "1")])

    async def everything(self, patient_id: str, *, max_pages: int | None = None) -> list[Resource]:
        """``Patient/{id}/$everything``: the patient's whole record, following next links.

        Asks for pages of ``EVERYTHING_PAGE_SIZE`` (a server's default page, HAPI's 20, would
        take a hundred requests for an ordinary record) and follows up to
        ``MAX_EVERYTHING_PAGES`` of them unless ``max_pages`` says otherwise. Raises
        ``SearchTruncated`` if the record has more pages than that.
        """
        path = f"Patient/{check_resource_id(patient_id)}/$everything"
        limit = max(self.max_pages, limits.MAX_EVERYTHING_PAGES) if max_pages is None else max_pages
        return await collect(
            self._transport,
            self._url(path),
            [("_count", str(limits.EVERYTHING_PAGE_SIZE))],
            what=f"Patient/{patient_id}/$everything",
            limit=self._page_limit(limit),
            max_results=None,
            # $everything may flag linked resources as "include"; they are the record too.
            exclude_modes=frozenset({"outcome"}),
        )

    async def update(self, resource: Resource) -> Resource:
        """``PUT [base]/Type/id``: create or replace a resource with the id it carries.

        Returns the server's version (with its meta.versionId), or the sent resource if
        the server answered without a body.
        """
        resource_type = resource.get("resourceType") if isinstance(resource, dict) else None
        resource_id = resource.get("id") if isinstance(resource, dict) else None
        if not isinstance(resource_type, str) or not isinstance(resource_id, str):
            raise ValueError(
                "update() needs a resource dict with 'resourceType' and 'id' strings; "
                "to let the server assign an id use a transaction with a POST entry"
            )
        path = f"{check_resource_type(resource_type)}/{check_resource_id(resource_id)}"
        response = await self._transport.send(
            "PUT",
            self._url(path),
            content=dump_resource(resource),
            extra_headers={"Prefer": "return=representation"},
        )
        if not response.content.strip():
            return resource
        return self._transport.parse(response, "PUT", path, expect=resource_type)

    async def transaction(self, bundle: Resource) -> Resource:
        """POST a ``transaction`` or ``batch`` Bundle to the base; returns the response Bundle.

        Not idempotent, so only retried when the server provably did not process it.
        """
        bundle_type = bundle.get("type") if isinstance(bundle, dict) else None
        if bundle.get("resourceType") != "Bundle" or bundle_type not in ("transaction", "batch"):
            raise ValueError(
                "transaction() needs a Bundle whose type is 'transaction' or 'batch', "
                f"got resourceType={bundle.get('resourceType')!r}, type={bundle_type!r}"
            )
        response = await self._transport.send(
            "POST", self._base_url, content=dump_resource(bundle), idempotent=False
        )
        return self._transport.parse(response, "POST", "/", expect="Bundle")

    async def transaction_file(self, body: IO[bytes]) -> Resource:
        """POST a transaction Bundle too large for memory, streamed from ``body``.

        ``body`` holds the Bundle's JSON (a loader spools a lifetime bundle's
        transaction there); it is read from its start for each attempt.
        """

        async def chunks() -> AsyncIterator[bytes]:
            body.seek(0)
            while chunk := body.read(_BODY_CHUNK_BYTES):
                yield chunk

        size = body.seek(0, 2)
        response = await self._transport.send(
            "POST",
            self._base_url,
            content=chunks,
            idempotent=False,
            # A known length, not chunked encoding: some servers refuse chunked uploads.
            extra_headers={"Content-Length": str(size)},
        )
        return self._transport.parse(response, "POST", "/", expect="Bundle")

    # ----------------------------------------------------------------- helpers

    def _page_limit(self, max_pages: int | None) -> int:
        limit = self.max_pages if max_pages is None else max_pages
        if limit < 1:
            raise ValueError(f"max_pages must be at least 1, got {limit}")
        return limit

    def _url(self, path: str) -> str:
        return self._transport.url(path)

    def _query(
        self,
        params: SearchParams | None,
        *,
        add_count: bool = True,
        max_results: int | None = None,
    ) -> list[tuple[str, str]]:
        return build_query(
            params, page_size=self.page_size, add_count=add_count, max_results=max_results
        )

    async def _get(
        self, path: str, expect: str, params: list[tuple[str, str]] | None = None
    ) -> Resource:
        """GET a path relative to the base; errors name ``path`` as given."""
        response = await self._transport.send("GET", self._url(path), params=params)
        return self._transport.parse(response, "GET", path, expect)
