"""The embedded store for hosts that forbid blocking on their event loop.

The embedded FHIR facade answers reads and searches with SQLite directly on the event
loop (a thread hop costs more than the query).  LangGraph's server forbids exactly that:
a blocking call on a running loop raises ``BlockingError`` (it checks every thread that
runs a loop).  So this transport serves each request in a worker thread that runs no
loop: the facade's coroutine is driven to its end there by hand, which works because an
inline read or search never suspends.  A request the facade hands to its own threadpool
(writes, ``$everything``) needs a loop; it fails fast in the worker before doing anything
and is then served on the host's loop as usual, where its SQLite work is already off the
loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, MutableMapping
from typing import Any

import httpx

from fhir_client.client import FhirClient
from fhir_client.embedded import EMBEDDED_BASE_URL, EmbeddedStore, embedded_asgi_app

__all__ = ["OffLoopTransport", "off_loop_client"]

Reply = tuple[int, list[tuple[bytes, bytes]], bytes]


class OffLoopTransport(httpx.AsyncBaseTransport):
    """Serves the embedded facade off the caller's event loop (see the module doc)."""

    def __init__(self, store: EmbeddedStore) -> None:
        self._app = embedded_asgi_app(store)
        self._on_loop = httpx.ASGITransport(app=self._app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        reply = await asyncio.to_thread(self._serve_without_loop, request, body)
        if reply is None:
            return await self._on_loop.handle_async_request(request)
        status, headers, content = reply
        # A stream, not ``content=``: httpx would read that at once, and a response read
        # before the client wraps it never gets its ``elapsed`` (the client's bounded
        # reader copies it).
        stream = httpx.ByteStream(content)
        return httpx.Response(status, headers=headers, stream=stream, request=request)

    def _serve_without_loop(self, request: httpx.Request, body: bytes) -> Reply | None:
        messages: list[MutableMapping[str, Any]] = []
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            messages.append(message)

        url = request.url
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": url.path,
            "raw_path": url.raw_path.split(b"?")[0],
            "query_string": url.query,
            "root_path": "",
            "headers": [(key.lower(), value) for key, value in request.headers.raw],
            "server": (url.host, url.port or 80),
            "client": ("127.0.0.1", 0),
        }
        if not _run_to_end(self._app(scope, receive, send)):
            return None
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        if start is None:
            return None
        content = b"".join(
            m.get("body", b"") for m in messages if m["type"] == "http.response.body"
        )
        return int(start["status"]), list(start.get("headers", [])), content


def _run_to_end(work: Coroutine[Any, Any, Any]) -> bool:
    """Drive ``work`` without an event loop; False if it needed one (nothing was done)."""
    try:
        work.send(None)
    except StopIteration:
        return True
    except Exception:  # no loop for anyio's threadpool: the request is served on the loop
        return False
    work.close()  # it suspended on a loop's future: serve it on the loop instead
    return False


def off_loop_client(store: EmbeddedStore, **client_kwargs: Any) -> FhirClient:
    """A FhirClient over ``store`` whose reads never block the caller's event loop."""
    return FhirClient(
        EMBEDDED_BASE_URL, transport=OffLoopTransport(store), own_store=True, **client_kwargs
    )
