"""Retrying requests for the FHIR client: what is retryable, how long to wait, the loop.

Kept apart from the client so the whole policy can be read (and tested) in one place.

Why idempotency matters: a GET or PUT can be repeated without changing the outcome, so any
transient failure may be retried.  A ``transaction`` POST may have been *applied* by the
server even though we saw a 500 or lost the connection mid-response; repeating it could
create duplicate resources.  So non-idempotent requests are retried only when the server
provably did not process them: the connection was never established, or the server
refused up front with 429 (rate limited) or 503 (unavailable).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from fhir_client.errors import (
    FhirConnectionError,
    RequestDeadlineExceeded,
    ResponseTooLarge,
    error_for_status,
)
from fhir_client.http_dates import parse_http_date
from fhir_client.limits import (
    MAX_BACKOFF_SECONDS,
    MAX_RESPONSE_BYTES,
    MAX_RETRY_AFTER_SECONDS,
    REQUEST_DEADLINE_SECONDS,
)

logger = logging.getLogger("fhir_client")

SleepFn = Callable[[float], Awaitable[None]]
BodyFactory = Callable[[], AsyncIterator[bytes]]
"""A request body too large to hold in memory: each call yields it again from the start,
so a retry can resend it."""
FHIR_JSON = "application/fhir+json"

# Statuses worth retrying for idempotent requests.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Statuses where the server refused before doing any work: safe even for POST.
REFUSED_STATUSES = frozenset({429, 503})

# Failures before the request reached the server: always safe to retry.
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
# Failures that may happen after the server received the request.
MAYBE_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)

JITTER_FRACTION = 0.1


def is_retryable_error(exc: Exception, *, idempotent: bool) -> bool:
    """Whether a transport error may be retried for this kind of request."""
    if isinstance(exc, NOT_SENT_ERRORS):
        return True
    return idempotent and isinstance(exc, MAYBE_SENT_ERRORS)


def is_retryable_status(status_code: int, *, idempotent: bool) -> bool:
    """Whether an HTTP status may be retried for this kind of request."""
    statuses = RETRY_STATUSES if idempotent else REFUSED_STATUSES
    return status_code in statuses


def backoff_delay(attempt: int, base_seconds: float) -> float:
    """Exponential backoff for retry number ``attempt`` (0-based), with a little jitter.

    Jitter spreads out clients that failed together so they do not retry in lockstep.
    """
    delay = min(MAX_BACKOFF_SECONDS, base_seconds * (2.0**attempt))
    return delay + random.uniform(0.0, delay * JITTER_FRACTION)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP-date).

    Returns ``None`` when the header is absent or unparseable (the caller then falls back
    to its own backoff); a date in the past means "retry now" (0).
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN -> None
    when = parse_http_date(text)
    if when is None:
        return None
    current = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """How one client sends every request: retries, waits, the deadline, the size bound.

    One value, checked once when the client is made, so the send loop takes it whole
    instead of each layer restating five parameters.  ``max_retries`` counts retries
    after the first attempt; ``deadline_seconds`` bounds the whole exchange, retries and
    waits included; ``sleep`` is swapped in tests to wait without waiting.
    """

    max_retries: int = 3
    backoff_seconds: float = 0.5
    sleep: SleepFn = asyncio.sleep
    deadline_seconds: float = REQUEST_DEADLINE_SECONDS
    max_response_bytes: int = MAX_RESPONSE_BYTES

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {self.max_retries}")
        if self.backoff_seconds < 0 or self.deadline_seconds <= 0:
            raise ValueError(
                "deadline_seconds must be positive and backoff_seconds must not be negative"
            )
        if self.max_response_bytes < 1:
            raise ValueError(
                f"max_response_bytes must be at least 1, got {self.max_response_bytes}"
            )


@dataclass(frozen=True)
class Exchange:
    """One request as the client means it, before any attempt is made.

    ``path`` (relative to ``base_url``, no query string) is what logs and errors show;
    ``idempotent`` says whether a request the server may have seen can be repeated.
    """

    method: str
    url: str
    path: str
    base_url: str
    params: list[tuple[str, str]] | None = None
    content: bytes | BodyFactory | None = None
    extra_headers: Mapping[str, str] | None = None
    idempotent: bool = True


async def send_with_retries(
    http: httpx.AsyncClient, exchange: Exchange, policy: RetryPolicy
) -> httpx.Response:
    """Send one request with retries; return a 2xx response or raise a typed error.

    The whole exchange, retries and waits included, must finish within
    ``policy.deadline_seconds``: httpx's timeout is per read, so a server trickling a
    byte every few seconds would otherwise never be cut off. Bodies are streamed and
    refused past ``policy.max_response_bytes``, never read whole.
    """
    try:
        async with asyncio.timeout(policy.deadline_seconds):
            return await _send_loop(http, exchange, policy)
    except TimeoutError:
        raise RequestDeadlineExceeded(
            f"{exchange.method} {exchange.path} failed: no complete response from "
            f"{exchange.base_url} within {policy.deadline_seconds:.0f} s (retries included). "
            "The server is too slow or is sending its answer very slowly; try again later "
            "or check the server"
        ) from None


async def read_bounded(
    http: httpx.AsyncClient, request: httpx.Request, *, path: str, max_bytes: int
) -> httpx.Response:
    """Send ``request`` and read its body, refusing one longer than ``max_bytes``.

    Counted after decompression, so a small gzip bomb is refused too. Returns a
    response whose ``content`` is the body read.
    """
    response = await http.send(request, stream=True)
    try:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise _too_large(request.method, path, max_bytes)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(request.method, path, max_bytes)
            chunks.append(chunk)
    finally:
        await response.aclose()
    # Decoded already: drop the encoding headers so the body is not decoded twice.
    headers = [
        (name, value)
        for name, value in response.headers.raw
        if name.lower() not in (b"content-encoding", b"content-length", b"transfer-encoding")
    ]
    complete = httpx.Response(
        response.status_code,
        headers=headers,
        content=b"".join(chunks),
        request=request,
        extensions=response.extensions,
    )
    # httpx sets ``elapsed`` when it closes a stream it opened; a transport that hands
    # back an already-read response (tests' MockTransport) leaves it unset.
    with contextlib.suppress(RuntimeError):
        complete.elapsed = response.elapsed
    return complete


def _too_large(method: str, path: str, max_bytes: int) -> ResponseTooLarge:
    return ResponseTooLarge(
        f"{method} {path}: the server's response is larger than {max_bytes // (1024 * 1024)} "
        "MiB (MAX_RESPONSE_BYTES), so it was not read. Ask for less (a smaller _count, "
        "a narrower search) or raise the bound in fhir_client/limits.py"
    )


async def _send_loop(
    http: httpx.AsyncClient, exchange: Exchange, policy: RetryPolicy
) -> httpx.Response:
    method, path, idempotent = exchange.method, exchange.path, exchange.idempotent
    max_retries, backoff_seconds = policy.max_retries, policy.backoff_seconds
    content, params = exchange.content, exchange.params
    headers = dict(exchange.extra_headers or {})
    if content is not None:
        headers["Content-Type"] = FHIR_JSON
    attempt = 0
    while True:
        started = time.monotonic()
        try:
            request = http.build_request(
                method,
                exchange.url,
                params=tuple(params) if params else None,
                content=content() if callable(content) else content,
                headers=headers,
            )
            response = await read_bounded(
                http, request, path=path, max_bytes=policy.max_response_bytes
            )
        except httpx.TransportError as exc:
            if attempt < max_retries and is_retryable_error(exc, idempotent=idempotent):
                delay = backoff_delay(attempt, backoff_seconds)
                logger.debug(
                    "%s %s: %s, retrying in %.2f s", method, path, type(exc).__name__, delay
                )
                await policy.sleep(delay)
                attempt += 1
                continue
            raise FhirConnectionError(
                f"{method} {path} failed: could not get a response from {exchange.base_url} "
                f"after {attempt + 1} attempt(s) ({type(exc).__name__}: {exc}). Check the "
                "base URL, that the server is running, and the network; for slow servers "
                "raise the timeout"
            ) from exc
        status = response.status_code
        elapsed_ms = (time.monotonic() - started) * 1000
        logger.debug("%s %s -> %d in %.0f ms", method, path, status, elapsed_ms)
        if response.is_success:
            return response
        if attempt < max_retries and is_retryable_status(status, idempotent=idempotent):
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None and retry_after > MAX_RETRY_AFTER_SECONDS:
                raise error_for_status(
                    status,
                    method=method,
                    path=path,
                    body=response.content,
                    hint=(
                        f"The server asked to wait {retry_after:.0f} s before retrying, "
                        f"more than this client waits ({MAX_RETRY_AFTER_SECONDS:.0f} s); "
                        "try again later"
                    ),
                )
            delay = (
                retry_after if retry_after is not None else backoff_delay(attempt, backoff_seconds)
            )
            logger.debug("%s %s: HTTP %d, retrying in %.2f s", method, path, status, delay)
            await policy.sleep(delay)
            attempt += 1
            continue
        hint = None
        if response.is_redirect:
            hint = (
                f"The server redirects to {response.headers.get('Location', '?')}; "
                "use that address as the base URL"
            )
        raise error_for_status(status, method=method, path=path, body=response.content, hint=hint)
