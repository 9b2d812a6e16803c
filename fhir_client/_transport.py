"""One request to the FHIR server as the client sees it: sent with retries, its body
parsed into a resource, and reported to the request observers.

Why apart from :mod:`fhir_client.client`: the client's public methods say *what* to
ask a FHIR server (read, search, ``$everything``, a transaction); how each request
travels (the retry policy of :mod:`fhir_client._retry`, the body checks of
:mod:`fhir_client._codec`) and who is told about it afterwards
(:mod:`fhir_client.observe`) is the same for all of them, so it lives here once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import httpx

from fhir_client._codec import Resource, parse_resource
from fhir_client._retry import BodyFactory, Exchange, RetryPolicy, send_with_retries
from fhir_client._urls import relative_path
from fhir_client.errors import FhirError, FhirHttpError, InvalidResponse
from fhir_client.observe import RequestObservation, RequestObserver, result_count

__all__ = ["Transport"]

logger = logging.getLogger("fhir_client")


class Transport:
    """Sends the client's requests over one ``httpx.AsyncClient`` and parses the answers.

    ``check_nesting=False`` only for the in-process embedded store, which refused deep
    JSON when it was written (see ``FhirClient``'s ``own_store``).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        retry_policy: RetryPolicy,
        *,
        check_nesting: bool,
    ) -> None:
        self.http = http
        self.base_url = base_url
        self.retry_policy = retry_policy
        self._check_nesting = check_nesting
        self._observers: list[RequestObserver] = []

    def add_observer(self, observer: RequestObserver) -> None:
        """Call ``observer`` after every request (see :mod:`fhir_client.observe`)."""
        if observer not in self._observers:
            self._observers.append(observer)

    def remove_observer(self, observer: RequestObserver) -> None:
        """Stop calling ``observer``; unknown observers are ignored."""
        if observer in self._observers:
            self._observers.remove(observer)

    def url(self, path: str) -> str:
        """The absolute URL of a path relative to the base."""
        return f"{self.base_url}/{path}"

    async def get(
        self, url: str, expect: str, params: list[tuple[str, str]] | None = None
    ) -> Resource:
        """GET ``url`` and parse the answer as a resource of type ``expect``."""
        response = await self.send("GET", url, params=params)
        return self.parse(response, "GET", relative_path(self.base_url, url), expect)

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: list[tuple[str, str]] | None = None,
        content: bytes | BodyFactory | None = None,
        extra_headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send one request under the retry policy; a failure is observed, then raised."""
        started = time.perf_counter()
        try:
            exchange = Exchange(
                method,
                url,
                path=relative_path(self.base_url, url),
                base_url=self.base_url,
                params=params,
                content=content,
                extra_headers=extra_headers,
                idempotent=idempotent,
            )
            return await send_with_retries(self.http, exchange, self.retry_policy)
        except FhirError as error:
            if self._observers:
                status = error.status_code if isinstance(error, FhirHttpError) else 0
                target = str(httpx.URL(url, params=params) if params else url)
                self._notify(method, target, status, time.perf_counter() - started, None)
            raise

    def parse(
        self, response: httpx.Response, method: str, path: str, expect: str | None
    ) -> Resource:
        """The response's resource (checked to be ``expect``), observed either way."""
        try:
            resource = parse_resource(
                response, method, path, expect, check_nesting=self._check_nesting
            )
        except InvalidResponse:
            self._observe_response(response, None)
            raise
        self._observe_response(response, resource)
        return resource

    def _observe_response(self, response: httpx.Response, resource: Resource | None) -> None:
        if not self._observers:
            return
        try:
            elapsed = response.elapsed.total_seconds()
        except RuntimeError:  # the response was never closed; no timing to report
            elapsed = 0.0
        count = result_count(resource) if resource is not None else None
        request = response.request
        self._notify(request.method, str(request.url), response.status_code, elapsed, count)

    def _notify(
        self, method: str, url: str, status: int, seconds: float, count: int | None
    ) -> None:
        """Tell the observers; a failing observer is logged, never the request's problem."""
        query = httpx.URL(url).query.decode("ascii", "replace")
        path = relative_path(self.base_url, url) + (f"?{query}" if query else "")
        observation = RequestObservation(method, path, status, round(seconds * 1000, 2), count)
        for observer in list(self._observers):
            try:
                observer(observation)
            except Exception:
                logger.exception("request observer %r failed; the request succeeded", observer)
